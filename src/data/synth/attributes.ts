/** Observable user attributes, derived from the latent traits with label noise (so they are predictable, not given). */
import type { Rng } from '../../tensor/rng.js';
import { LIFE_STAGES, NUM_SEGMENTS, type LifeStage, type UserTraits } from './world.js';

export interface UserAttributes {
  gender: 'M' | 'F';
  /** Integer years in [MIN_AGE, MAX_AGE]. */
  age: number;
  lifeStage: LifeStage;
}

export const MIN_AGE = 18;
export const MAX_AGE = 70;
/** Probability that the reported life stage is the segment's own (else one of the others, uniformly). */
const LIFE_STAGE_FIDELITY = 0.85;
/** Probability that the reported gender is the latent one. */
const GENDER_FIDELITY = 0.92;
/** Age given the reported life stage: normal(mean, std), rounded and clipped. */
const AGE_BY_LIFE_STAGE: Record<LifeStage, { mean: number; std: number }> = {
  student: { mean: 21, std: 2.5 },
  single: { mean: 29, std: 4 },
  parent: { mean: 41, std: 6 },
  retired: { mean: 66, std: 3.5 },
};

export function drawAttributes(rng: Rng, traits: UserTraits): UserAttributes {
  let stage = traits.segment;
  if (rng.uniform() >= LIFE_STAGE_FIDELITY) stage = (stage + rng.int(1, NUM_SEGMENTS)) % NUM_SEGMENTS;
  const lifeStage = LIFE_STAGES[stage]!;
  const female = (traits.gender === 1) === rng.uniform() < GENDER_FIDELITY;
  const { mean, std } = AGE_BY_LIFE_STAGE[lifeStage];
  const age = Math.min(MAX_AGE, Math.max(MIN_AGE, Math.round(rng.normal(mean, std))));
  return { gender: female ? 'F' : 'M', age, lifeStage };
}
