/** The model shape options the step benchmarks share, turned into a model config by the one schema. */
import { Backbone, ItemEncoderKind, MODEL_DEFAULTS, ModelConfig, ModelConfigSchema } from '../src/config/schema.js';

export interface ModelShapeOptions {
  backbone?: Backbone;
  /** Absent = the backbone's default. */
  dim?: number;
  /** NextItNet residual blocks. */
  blocks: number;
  /** Transformer / GRU layers, attention heads, dropout; absent = the backbone's default. */
  layers?: number;
  heads?: number;
  dropout?: number;
  maxLen: number;
}

/** `items`: where item vectors come from (default id items). */
export function benchModelConfig(o: ModelShapeOptions, numItems: number,
  items: { itemEncoder?: ItemEncoderKind; textBuckets?: number } = {}): ModelConfig {
  return ModelConfigSchema.parse({
    ...MODEL_DEFAULTS, objective: undefined, backbone: o.backbone ?? MODEL_DEFAULTS.backbone, numItems, dim: o.dim, blocks: o.blocks,
    layers: o.layers, heads: o.heads, dropout: o.dropout, maxLen: o.maxLen, ...items,
  });
}
