/** How many rows an item input table has; apart from encoder.ts so the item encoder needs nothing else of it. */
import { ModelConfig } from '../config/schema.js';

/** Input table rows: padding + items (+ mask token for the masked objective). */
export function inputRows(config: ModelConfig): number {
  return config.numItems + 1 + (config.objective === 'masked' ? 1 : 0);
}
