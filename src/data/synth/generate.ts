/** Draws the users, their attributes and their sequences from the latent world (see ../synth.ts for the model). */
import type { Rng } from '../../tensor/rng.js';
import { drawAttributes, type UserAttributes } from './attributes.js';
import { MIN_SEQUENCE_LENGTH, resolveSynthOptions, type SynthOptions } from './options.js';
import { SequenceState } from './process.js';
import {
  SOURCE_DYNAMICS,
  TARGET_DYNAMICS,
  buildDomain,
  drawUserTraits,
  streamRng,
  type SyntheticDomain,
  type UserTraits,
} from './world.js';

export interface SyntheticUser {
  /** Raw id as written to the CSVs: 'u1', 'u2', … */
  id: string;
  traits: UserTraits;
  attributes: UserAttributes;
  /** Per domain: item indices (0-based within the domain) in time order; empty when the user is not in it. */
  items: Int32Array[];
  /** Per domain: integer Unix-second timestamps, parallel to `items`, strictly increasing across all domains. */
  timestamps: Float64Array[];
}

export interface SyntheticData {
  options: SynthOptions;
  domains: SyntheticDomain[];
  users: SyntheticUser[];
  interactionCount: number;
}

/** Log-normal spread of sequence lengths (heavy right tail, like real click logs). */
const LENGTH_LOG_STD = 0.6;
/** Longest sequence, as a multiple of the mean (and never more than half the catalogue). */
const MAX_LENGTH_FACTOR = 5;
/** Mean length of a domain-B (target) sequence: "a few interactions". */
const TARGET_MEAN_LENGTH = 6;
const FIRST_TIMESTAMP = 1_700_000_000;
const START_SPREAD_SECONDS = 30 * 86400;
const SOURCE_GAP_SECONDS = 2 * 3600;
/** Domain B is the newer, sparser service: a user's B activity starts after their A history. */
const TARGET_START_GAP_SECONDS = 3 * 86400;
const TARGET_GAP_SECONDS = 6 * 3600;

enum Stream {
  SourceWorld,
  TargetWorld,
  Users,
  SourceSequences,
  TargetSequences,
}

function drawLength(rng: Rng, mean: number, numItems: number): number {
  const max = Math.max(MIN_SEQUENCE_LENGTH, Math.min(Math.round(MAX_LENGTH_FACTOR * mean), Math.floor(numItems / 2)));
  const mu = Math.log(mean) - (LENGTH_LOG_STD * LENGTH_LOG_STD) / 2;
  return Math.min(max, Math.max(MIN_SEQUENCE_LENGTH, Math.round(Math.exp(rng.normal(mu, LENGTH_LOG_STD)))));
}

/** A positive integer gap, exponential with the given mean. */
function drawGap(rng: Rng, meanSeconds: number): number {
  return 1 + Math.floor(-Math.log(1 - rng.uniform()) * meanSeconds);
}

function drawSequence(rng: Rng, domain: SyntheticDomain, taste: Float64Array, length: number): Int32Array {
  const state = new SequenceState(domain, taste);
  const items = new Int32Array(length);
  for (let j = 0; j < length; j++) {
    items[j] = state.sampleNext(rng);
    state.observe(items[j]!);
  }
  return items;
}

function drawTimestamps(rng: Rng, start: number, length: number, meanGap: number): Float64Array {
  const out = new Float64Array(length);
  for (let j = 0, t = start; j < length; j++, t += drawGap(rng, meanGap)) out[j] = t;
  return out;
}

export function generateSynthetic(partial: Partial<SynthOptions> = {}): SyntheticData {
  const options = resolveSynthOptions(partial);
  const { seed, items: numItems } = options;
  const domains = [buildDomain(streamRng(seed, Stream.SourceWorld), 0, numItems, SOURCE_DYNAMICS)];
  if (options.domains === 2) domains.push(buildDomain(streamRng(seed, Stream.TargetWorld), 1, numItems, TARGET_DYNAMICS));
  const [source, target] = domains as [SyntheticDomain, SyntheticDomain | undefined];

  const userRng = streamRng(seed, Stream.Users);
  const sourceRng = streamRng(seed, Stream.SourceSequences);
  const targetRng = streamRng(seed, Stream.TargetSequences);
  const users: SyntheticUser[] = [];
  let interactionCount = 0;
  for (let u = 0; u < options.users; u++) {
    const traits = drawUserTraits(userRng);
    const attributes = drawAttributes(userRng, traits);
    const sourceItems = drawSequence(sourceRng, source, traits.taste, drawLength(sourceRng, options.meanLength, numItems));
    const start = FIRST_TIMESTAMP + sourceRng.int(0, START_SPREAD_SECONDS);
    const sourceTimes = drawTimestamps(sourceRng, start, sourceItems.length, SOURCE_GAP_SECONDS);
    const items = [sourceItems];
    const timestamps = [sourceTimes];
    if (target) {
      let targetItems: Int32Array = new Int32Array(0);
      let targetTimes: Float64Array = new Float64Array(0);
      if (targetRng.uniform() < options.overlap) {
        targetItems = drawSequence(targetRng, target, traits.taste, drawLength(targetRng, TARGET_MEAN_LENGTH, numItems));
        const targetStart = sourceTimes[sourceTimes.length - 1]! + drawGap(targetRng, TARGET_START_GAP_SECONDS);
        targetTimes = drawTimestamps(targetRng, targetStart, targetItems.length, TARGET_GAP_SECONDS);
      }
      items.push(targetItems);
      timestamps.push(targetTimes);
    }
    for (const seq of items) interactionCount += seq.length;
    users.push({ id: `u${u + 1}`, traits, attributes, items, timestamps });
  }
  return { options, domains, users, interactionCount };
}
