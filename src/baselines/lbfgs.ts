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

/** −H·g with H the L-BFGS inverse-Hessian estimate from the remembered (s, y) pairs, oldest first. */
function searchDirection(g: Float64Array, s: Float64Array[], y: Float64Array[]): Float64Array {
  const q = Float64Array.from(g);
  const n = q.length;
  const alpha = new Float64Array(s.length);
  const rho = Float64Array.from(s, (si, i) => 1 / dot(y[i]!, si));
  for (let i = s.length - 1; i >= 0; i--) {
    const si = s[i]!;
    const yi = y[i]!;
    const a = (alpha[i] = rho[i]! * dot(si, q));
    for (let j = 0; j < n; j++) q[j] -= a * yi[j]!;
  }
  // Initial Hessian scale: s'y / y'y of the newest pair, or a unit-length first step.
  const last = s.length - 1;
  const gamma = last >= 0 ? 1 / (rho[last]! * dot(y[last]!, y[last]!)) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
  for (let j = 0; j < n; j++) q[j] *= gamma;
  for (let i = 0; i < s.length; i++) {
    const si = s[i]!;
    const b = alpha[i]! - rho[i]! * dot(y[i]!, q);
    for (let j = 0; j < n; j++) q[j] += b * si[j]!;
  }
  for (let j = 0; j < n; j++) q[j] = -q[j]!;
  return q;
}

export function minimizeLbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const { maxIterations = 500, memory = 10, gradientTolerance = 1e-6, relativeDecrease = 1e-10 } = options;
  let x = Float64Array.from(x0);
  let g = new Float64Array(x.length);
  let f = objective(x, g);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  let iterations = 0;
  while (iterations < maxIterations && maxAbs(g) > gradientTolerance) {
    iterations++;
    let d = searchDirection(g, s, y);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // The curvature memory no longer gives a descent direction: forget it and go downhill.
      s.length = 0;
      y.length = 0;
      d = searchDirection(g, s, y);
      slope = dot(g, d);
    }
    const xNext = new Float64Array(x.length);
    const gNext = new Float64Array(x.length);
    let fNext = Infinity;
    let accepted = false;
    for (let t = 1, tries = 0; tries < 40; t *= 0.5, tries++) {
      for (let j = 0; j < x.length; j++) xNext[j] = x[j]! + t * d[j]!;
      fNext = objective(xNext, gNext);
      if (fNext <= f + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break; // no decrease possible at float64 precision: x is as good as it gets
    const step = new Float64Array(x.length);
    const change = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      step[j] = xNext[j]! - x[j]!;
      change[j] = gNext[j]! - g[j]!;
    }
    if (dot(step, change) > 1e-12) {
      s.push(step);
      y.push(change);
      if (s.length > memory) {
        s.shift();
        y.shift();
      }
    }
    const decrease = f - fNext;
    x = xNext;
    g = gNext;
    f = fNext;
    if (decrease <= relativeDecrease * Math.max(1, Math.abs(f))) break;
  }
  return { x, value: f, iterations };
}
