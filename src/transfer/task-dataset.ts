import { Dataset, loadDataset } from '../data/dataset.js';
import { LoadedModel, assertItemTextFor, loadDatasetFor } from '../train/checkpoint.js';
import { TaskSpec } from './tasks.js';

/**
 * The task's dataset. A classification dataset must share the model's vocabulary (its sequences are read as
 * they are); a cross-domain one is matched to the model by raw item id, so it may be a different ingest (e.g.
 * both domains, while the model was pretrained on the source domain only); a next-item one is another platform
 * whose items the model reads by their text.
 */
export async function loadTaskDataset(spec: TaskSpec, base: LoadedModel, modelDir: string, dataDir: string): Promise<Dataset> {
  if (spec.type === 'classify') return loadDatasetFor(base.config, modelDir, dataDir);
  const ds = await loadDataset(dataDir);
  // A new platform's items are read by their text: it must come from the base's tokenizer.
  if (spec.type === 'next-item') assertItemTextFor(base.config, ds, modelDir, dataDir);
  return ds;
}
