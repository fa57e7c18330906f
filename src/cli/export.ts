import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { DataError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { packageVersion } from '../io/package.js';
import { exportOnnx } from '../export/onnx.js';
import { loadModelDir } from '../train/checkpoint.js';

interface ExportOnnxFlags {
  model: string;
  out: string;
  force?: boolean;
}

function onnxCommand(): Command {
  return new Command('onnx')
    .description('Write the model\'s user encoder as an ONNX graph: input items int64 [batch, length] (left-padded with 0), output user float [batch, dim] (the last position)')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--force', 'replace an existing --out file')
    .action(async (f: ExportOnnxFlags) => {
      if (existsSync(f.out) && !f.force) throw new DataError(`${f.out} exists; pass --force to replace it`);
      const loaded = await loadModelDir(f.model);
      const bytes = exportOnnx(loaded.model, packageVersion(), { items: String(loaded.items.length) });
      await writeFileAtomic(f.out, bytes);
      console.log(`${loaded.model.backbone} user encoder (${loaded.config.model.dim} floats per user, ${bytes.length} bytes) -> ${f.out}`);
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('Export a model for other runtimes')
    .addCommand(onnxCommand());
}
