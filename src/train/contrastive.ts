/**
 * The sequence-level contrastive loss term (CLUE, Cheng et al., ICDM 2021; views as in CL4SRec): two augmented
 * views of every training sequence, each read into a user vector the way transfer tasks read users (mean over the
 * real positions), through a projection head, onto the unit sphere; InfoNCE (NT-Xent) then asks each view to pick
 * its partner out of the batch's 2B views at temperature τ. The head only shapes this loss: it is trained with
 * the backbone but is not part of the saved base model.
 */
import { UserEncoder } from '../models/encoder.js';
import { UserReading } from '../models/user-vectors.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Rng, Tensor, infoNce, l2Normalize, matmul, relu } from '../tensor/index.js';

/** Parameter names of the head start with this; the base model's names never do. */
export const PROJECTION_HEAD_NAME = 'projection';

/** The user vector each view is read into: the mean over the real positions of its (single) window. */
export const CONTRASTIVE_READING: UserReading = { pooling: 'mean', windows: 1 };

/** Linear–ReLU–Linear from the user vector (dim) to the space the loss compares views in (outDim). */
export class ProjectionHead extends Module {
  readonly hidden: Linear;
  readonly out: Linear;

  constructor(dim: number, outDim: number, rng: Rng) {
    super(PROJECTION_HEAD_NAME);
    this.hidden = this.child(new Linear(this.childName('hidden'), dim, dim, rng));
    this.out = this.child(new Linear(this.childName('out'), dim, outDim, rng));
  }

  forward(x: Tensor): Tensor {
    return this.out.forward(relu(this.hidden.forward(x)));
  }
}

/** For views laid out [first views, second views] of n sequences, row i's partner is row (i + n) mod 2n. */
export function pairedViews(sequences: number): Int32Array {
  return Int32Array.from({ length: 2 * sequences }, (_, i) => (i + sequences) % (2 * sequences));
}

/** InfoNCE over the projected, normalised user vectors of `views` ([first views, second views]). */
export function contrastiveLoss(model: UserEncoder, head: ProjectionHead, views: readonly Int32Array[], temperature: number): Tensor {
  const z = l2Normalize(head.forward(model.userVectors(views, CONTRASTIVE_READING)));
  const similarity = matmul(z, z, { transB: true });
  return infoNce(similarity, pairedViews(views.length / 2), temperature);
}
