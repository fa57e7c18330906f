import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { DataError, ModelError } from '../errors.js';
import { OnnxTask, exportOnnx } from '../export/onnx.js';
import { refuseExistingFile, writeFileAtomic } from '../io/atomic.js';
import { packageVersion } from '../io/package.js';
import { floatTensors, readSafetensors } from '../io/safetensors.js';
import { UserEncoder } from '../models/encoder.js';
import { LoadedModel, loadModelDir } from '../train/checkpoint.js';
import { baseFingerprint, loadTaskDir } from '../transfer/patchfile.js';

/**
 * The task at `patchDir` (trained on the model at `modelDir`, loaded as `loaded`): its view of the base, and what
 * the ONNX graph needs of it.
 */
export async function loadOnnxTask(patchDir: string, modelDir: string, loaded: LoadedModel): Promise<{ model: UserEncoder; task: OnnxTask }> {
  const loadedTask = await loadTaskDir(patchDir, loaded, await baseFingerprint(modelDir));
  if (loadedTask.head === null) throw new ModelError(`${patchDir}: a ${loadedTask.card.type} task is not yet exportable to ONNX (classify and recommend tasks are)`);
  const { card, model, head } = loadedTask;
  const weightsPath = join(patchDir, 'patch.safetensors');
  // The patches only: the file also holds the head (loaded above), whose item-pair support is integer.
  const decoded = await readSafetensors(weightsPath);
  const patches = floatTensors({ ...decoded, tensors: new Map([...decoded.tensors].filter(([name]) => name.startsWith('patch.'))) }, weightsPath);
  return {
    model,
    task: {
      type: card.type,
      insertion: card.insertion,
      patches,
      pooling: card.pooling,
      query: head.query,
      itemBag: head.itemBag,
      rows: card.type === 'classify' ? card.classes : card.targetItems,
      headWeight: head.weight.data,
      headBias: head.bias.data,
      itemPairs: head.itemPairs && { support: head.itemPairs.support, weight: head.itemPairs.weight.data },
    },
  };
}

interface ExportOnnxFlags {
  model: string;
  patch?: string;
  out: string;
  force?: boolean;
}

function onnxCommand(): Command {
  return new Command('onnx')
    .description('Write the model\'s user encoder as an ONNX graph: input items int64 [batch, length] (left-padded with 0, at most max-len items, max-len - 1 for a masked-objective model), output user float [batch, dim] (the last position); with --patch, a classify or recommend task\'s reading of the user and its class probabilities or target-item scores')
    .requiredOption('--model <dir>', 'model directory')
    .option('--patch <dir>', 'a classify or recommend task trained on this model (from `graftrec finetune`): export its patched network, pooling and head')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--force', 'replace an existing --out file')
    .action(async (f: ExportOnnxFlags) => {
      refuseExistingFile(f.out, f.force ?? false);
      if (!existsSync(dirname(f.out))) throw new DataError(`${f.out}: no such directory ${dirname(f.out)}`);
      const loaded = await loadModelDir(f.model);
      const metadata: Record<string, string> = { items: String(loaded.items.length) };
      let bytes: Uint8Array;
      if (f.patch) {
        const { model, task } = await loadOnnxTask(f.patch, f.model, loaded);
        const rowsKey = task.type === 'classify' ? 'classes' : 'target_items';
        bytes = exportOnnx(model, packageVersion(), { ...metadata, [rowsKey]: JSON.stringify(task.rows) }, task);
      } else {
        bytes = exportOnnx(loaded.model, packageVersion(), metadata);
      }
      await writeFileAtomic(f.out, bytes);
      const what = f.patch ? `task ${f.patch} (user vectors and the head's output)` : `${loaded.model.backbone} user encoder`;
      console.log(`${what}, ${bytes.length} bytes -> ${f.out}`);
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('Export a model for other runtimes')
    .addCommand(onnxCommand());
}
