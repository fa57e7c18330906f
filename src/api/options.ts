/** Plain-object options of the library, checked against the config schemas with one clear error. */
import { z } from 'zod';
import { DataError } from '../errors.js';

/**
 * `value` parsed by `schema` (defaults filled in), or a DataError naming `what` and the first problem, e.g.
 * "pretrain: train.lr: Too small: expected number to be >0".
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new DataError(`${what}: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}
