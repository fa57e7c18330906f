import { backend } from '../backend.js';
import { AutogradError } from '../../errors.js';
import { Parameter, isDebugMode, noteParameterWrite } from '../tensor.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW: weight decay applied to the weights directly rather than added to the gradient. */
  decoupled?: boolean;
}

interface Moments {
  m: Float32Array;
  v: Float32Array;
}

/** Serialisable optimizer state: the step count and both moments of every parameter, by parameter name. */
export interface AdamState {
  step: number;
  moments: Map<string, Moments>;
}

/**
 * Adam with dense updates for ordinary parameters and lazy row-sparse updates for row-sparse parameters (only
 * the rows that received a gradient this step move). The step consumes the gradients (resets them to zero).
 * Parameters with requiresGrad=false are skipped entirely.
 */
export class Adam {
  readonly params: readonly Parameter[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private stepCount = 0;
  private readonly moments = new Map<Parameter, Moments>();

  constructor(params: readonly Parameter[], options: AdamOptions) {
    this.params = params;
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupled ?? false;
  }

  /** Number of updates made so far (the bias-correction step). */
  get steps(): number {
    return this.stepCount;
  }

  private momentsOf(p: Parameter): Moments {
    let s = this.moments.get(p);
    if (!s) {
      s = { m: new Float32Array(p.size), v: new Float32Array(p.size) };
      this.moments.set(p, s);
    }
    return s;
  }

  step(): void {
    const k = backend();
    this.stepCount++;
    noteParameterWrite();
    for (const p of this.params) {
      if (!p.requiresGrad || !p.grad) continue;
      const { m, v } = this.momentsOf(p);
      let rows: Int32Array | null = null;
      if (p.touchedRows) {
        rows = k.collectRows(p.touchedRows);
        if (p.allRowsTouched) {
          rows = null;
          p.allRowsTouched = false;
        } else if (rows.length === 0) {
          // Every op that writes a row-sparse gradient marks its rows (or all rows), so none marked means none
          // written; debug mode checks that promise.
          if (isDebugMode() && k.sumSquares(p.grad) !== 0) {
            throw new AutogradError(`${p.name}: row-sparse gradient is non-zero but no rows are marked; an op wrote it without marking its rows`);
          }
          continue;
        }
      }
      k.adamStep(p.data, p.grad, m, v, rows, p.rowSize, this.lr, this.beta1, this.beta2, this.eps, this.weightDecay,
        this.decoupled, this.stepCount);
    }
  }

  /** Clears gradients without updating (e.g. after a skipped step). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.fill(0);
      p.touchedRows?.fill(0);
      p.allRowsTouched = false;
    }
  }

  state(): AdamState {
    const moments = new Map<string, Moments>();
    for (const p of this.params) if (p.requiresGrad) moments.set(p.name, this.momentsOf(p));
    return { step: this.stepCount, moments };
  }

  loadState(state: AdamState): void {
    this.stepCount = state.step;
    for (const p of this.params) {
      const s = state.moments.get(p.name);
      if (!s) continue;
      if (s.m.length !== p.size || s.v.length !== p.size) {
        throw new RangeError(`optimizer state for ${p.name} has ${s.m.length} entries, parameter has ${p.size}`);
      }
      this.moments.set(p, { m: Float32Array.from(s.m), v: Float32Array.from(s.v) });
    }
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch). */
export class AdamW extends Adam {
  constructor(params: readonly Parameter[], options: Omit<AdamOptions, 'decoupled'>) {
    super(params, { weightDecay: 0.01, ...options, decoupled: true });
  }
}
