import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { DataError, ModelError } from '../errors.js';
import { OnnxClassifyTask, exportOnnx } from '../export/onnx.js';
import { refuseExistingFile, writeFileAtomic } from '../io/atomic.js';
import { packageVersion } from '../io/package.js';
import { floatTensors, readSafetensors } from '../io/safetensors.js';
import { loadModelDir } from '../train/checkpoint.js';
import { baseFingerprint, loadPatchDir } from '../transfer/patchfile.js';

interface ExportOnnxFlags {
  model: string;
  patch?: string;
  out: string;
  force?: boolean;
}

function onnxCommand(): Command {
  return new Command('onnx')
    .description('Write the model\'s user encoder as an ONNX graph: input items int64 [batch, length] (left-padded with 0, at most max-len), output user float [batch, dim] (the last position); with --patch, a classify task\'s reading of the user and its class probabilities')
    .requiredOption('--model <dir>', 'model directory')
    .option('--patch <dir>', 'a classify task trained on this model (from `graftrec finetune`): export its patched network, pooling and head')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--force', 'replace an existing --out file')
    .action(async (f: ExportOnnxFlags) => {
      refuseExistingFile(f.out, f.force ?? false);
      if (!existsSync(dirname(f.out))) throw new DataError(`${f.out}: no such directory ${dirname(f.out)}`);
      const loaded = await loadModelDir(f.model);
      const metadata: Record<string, string> = { items: String(loaded.items.length) };
      let bytes: Uint8Array;
      if (f.patch) {
        const task = await loadPatchDir(f.patch, loaded, await baseFingerprint(f.model));
        const { card } = task;
        if (card.type !== 'classify') throw new ModelError(`${f.patch}: a ${card.type} task is not yet exportable to ONNX (classify tasks are)`);
        const weightsPath = join(f.patch, 'patch.safetensors');
        const tensors = floatTensors(await readSafetensors(weightsPath), weightsPath);
        const onnxTask: OnnxClassifyTask = {
          insertion: card.insertion,
          patches: new Map([...tensors].filter(([name]) => name.startsWith('patch.'))),
          pooling: card.pooling,
          itemBag: task.head.itemBag,
          classes: card.classes,
          headWeight: task.head.weight.data,
          headBias: task.head.bias.data,
        };
        bytes = exportOnnx(task.model, packageVersion(), { ...metadata, classes: JSON.stringify(card.classes) }, onnxTask);
      } else {
        bytes = exportOnnx(loaded.model, packageVersion(), metadata);
      }
      await writeFileAtomic(f.out, bytes);
      const what = f.patch ? `task ${f.patch} (user vectors and class probabilities)` : `${loaded.model.backbone} user encoder`;
      console.log(`${what}, ${bytes.length} bytes -> ${f.out}`);
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('Export a model for other runtimes')
    .addCommand(onnxCommand());
}
