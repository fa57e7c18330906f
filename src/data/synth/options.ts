/** Options of the synthetic generator: one set of defaults, one validator (used by the library and the CLI). */
import { DataError } from '../../errors.js';

export interface SynthOptions {
  /** Number of users (all have a domain-A sequence). */
  users: number;
  /** Items per domain. */
  items: number;
  /** 1 (domain A only) or 2 (A = source, B = target). */
  domains: number;
  seed: number;
  /** Mean length of a user's domain-A sequence (lengths are lognormal, at least 3). */
  meanLength: number;
  /** Fraction of users who also have a domain-B sequence (ignored with one domain). */
  overlap: number;
}

export const SYNTH_DEFAULTS: Readonly<SynthOptions> = Object.freeze({
  users: 2000,
  items: 1000,
  domains: 2,
  seed: 1,
  meanLength: 20,
  overlap: 0.75,
});

/** Shortest sequence in any domain: enough for a leave-one-out split (train, validation, test). */
export const MIN_SEQUENCE_LENGTH = 3;

/**
 * Sequences never repeat an item within a domain (so evaluation with or without history masking means the same
 * thing), hence a catalogue must be several times longer than the mean sequence.
 */
export const ITEMS_PER_MEAN_LENGTH = 4;
export const MIN_ITEMS = 20;

export function resolveSynthOptions(partial: Partial<SynthOptions> = {}): SynthOptions {
  const o: SynthOptions = { ...SYNTH_DEFAULTS };
  for (const [key, value] of Object.entries(partial)) if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  const positiveInt = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new DataError(`synth: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('users', o.users);
  positiveInt('items', o.items);
  if (o.domains !== 1 && o.domains !== 2) throw new DataError(`synth: domains must be 1 or 2, got ${o.domains}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0x7fffffff) {
    throw new DataError(`synth: seed must be an integer in [0, 2^31 - 1], got ${o.seed}`);
  }
  if (!Number.isFinite(o.meanLength) || o.meanLength < MIN_SEQUENCE_LENGTH) {
    throw new DataError(`synth: mean length must be a number ≥ ${MIN_SEQUENCE_LENGTH}, got ${o.meanLength}`);
  }
  if (!(o.overlap >= 0 && o.overlap <= 1)) throw new DataError(`synth: overlap must be a fraction in [0, 1], got ${o.overlap}`);
  const neededItems = Math.max(MIN_ITEMS, Math.ceil(ITEMS_PER_MEAN_LENGTH * o.meanLength));
  if (o.items < neededItems) {
    throw new DataError(
      `synth: ${o.items} items per domain is too few for mean length ${o.meanLength} ` +
        `(sequences never repeat an item; need at least ${neededItems})`,
    );
  }
  return o;
}
