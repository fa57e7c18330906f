/**
 * Limited-memory BFGS for smooth unconstrained minimisation in float64 (Nocedal & Wright, algorithm 7.4): the
 * two-loop recursion over the last `memory` steps, and a backtracking line search on the Armijo condition. It is
 * deterministic (no randomness, fixed summation order), which makes the baselines built on it repeatable.
 */

/** Writes the gradient at x into `grad` and returns the objective's value at x. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations?: number;
  /** Steps remembered for the curvature estimate. */
  memory?: number;
  /** Stop once the largest gradient component is below this. */
  gradientTolerance?: number;
  /** Stop once a step lowers the objective by less than this fraction of its value. */
  relativeDecrease?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** A remembered step: s = x_{k+1} − x_k, y = g_{k+1} − g_k, rho = 1 / s·y. */
interface CurvaturePair {
  s: Float64Array;
  y: Float64Array;
  rho: number;
}

/** Writes −H·g into `d`, H the L-BFGS inverse-Hessian estimate from the remembered pairs (oldest first). */
function searchDirection(g: Float64Array, pairs: CurvaturePair[], alpha: Float64Array, d: Float64Array): void {
  const n = d.length;
  d.set(g);
  for (let i = pairs.length - 1; i >= 0; i--) {
    const { s, y, rho } = pairs[i]!;
    const a = (alpha[i] = rho * dot(s, d));
    for (let j = 0; j < n; j++) d[j] -= a * y[j]!;
  }
  // Initial Hessian scale: s'y / y'y of the newest pair, or a unit-length first step.
  const newest = pairs[pairs.length - 1];
  const gamma = newest ? 1 / (newest.rho * dot(newest.y, newest.y)) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
  for (let j = 0; j < n; j++) d[j] *= gamma;
  for (let i = 0; i < pairs.length; i++) {
    const { s, y, rho } = pairs[i]!;
    const b = alpha[i]! - rho * dot(y, d);
    for (let j = 0; j < n; j++) d[j] += b * s[j]!;
  }
  for (let j = 0; j < n; j++) d[j] = -d[j]!;
}

export function minimizeLbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const { maxIterations = 500, memory = 10, gradientTolerance = 1e-6, relativeDecrease = 1e-10 } = options;
  const n = x0.length;
  // Every buffer is allocated once: the parameter vectors can be large (items × classes).
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let xNext = new Float64Array(n);
  let gNext = new Float64Array(n);
  const d = new Float64Array(n);
  const alpha = new Float64Array(memory);
  const pairs: CurvaturePair[] = [];
  let f = objective(x, g);
  let iterations = 0;
  while (iterations < maxIterations && maxAbs(g) > gradientTolerance) {
    iterations++;
    searchDirection(g, pairs, alpha, d);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // The curvature memory no longer gives a descent direction: forget it and go downhill.
      pairs.length = 0;
      searchDirection(g, pairs, alpha, d);
      slope = dot(g, d);
    }
    let fNext = Infinity;
    let accepted = false;
    for (let t = 1, tries = 0; tries < 40; t *= 0.5, tries++) {
      for (let j = 0; j < n; j++) xNext[j] = x[j]! + t * d[j]!;
      fNext = objective(xNext, gNext);
      if (fNext <= f + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break; // no decrease possible at float64 precision: x is as good as it gets
    let sy = 0;
    for (let j = 0; j < n; j++) sy += (xNext[j]! - x[j]!) * (gNext[j]! - g[j]!);
    if (sy > 1e-12) {
      const pair = pairs.length === memory ? pairs.shift()! : { s: new Float64Array(n), y: new Float64Array(n), rho: 0 };
      for (let j = 0; j < n; j++) {
        pair.s[j] = xNext[j]! - x[j]!;
        pair.y[j] = gNext[j]! - g[j]!;
      }
      pair.rho = 1 / sy;
      pairs.push(pair);
    }
    const decrease = f - fNext;
    [x, xNext] = [xNext, x];
    [g, gNext] = [gNext, g];
    f = fNext;
    if (decrease <= relativeDecrease * Math.max(1, Math.abs(f))) break;
  }
  return { x, value: f, iterations };
}
