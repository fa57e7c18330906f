/**
 * The convolution kernels on shapes that reach every blocking edge of the GEMMs inside them: inner dimensions
 * longer than one depth block, output widths wider than one panel and not a multiple of the vector length, row
 * counts that leave partial micro-tiles, and enough rows for the multi-threaded paths. Forward, dx, dweight and
 * dbias are compared with float64 loops; backward must accumulate onto what the gradient buffers already hold.
 * Run as a script (the conv kernel test does, once per GEMM instruction-set path) it exits 1 on a mismatch.
 */
import { pathToFileURL } from 'node:url';
import { Rng, backend } from '../../src/index.js';
import { relativeError } from './gradcheck.js';
import { conv1dRef } from './reference.js';

export interface ConvShape {
  B: number; L: number; Cin: number; Cout: number; k: number; dilation: number; causal: boolean;
}

export const CONV_SHAPES: readonly ConvShape[] = [
  { B: 5, L: 37, Cin: 70, Cout: 300, k: 3, dilation: 4, causal: true },
  { B: 3, L: 50, Cin: 300, Cout: 20, k: 3, dilation: 2, causal: false },
  { B: 40, L: 50, Cin: 64, Cout: 64, k: 3, dilation: 8, causal: true },
  { B: 7, L: 9, Cin: 17, Cout: 33, k: 5, dilation: 3, causal: false },
  { B: 2, L: 11, Cin: 5, Cout: 3, k: 2, dilation: 20, causal: true },
];

function offset(s: ConvShape, j: number): number {
  return s.causal ? (j - (s.k - 1)) * s.dilation : (j - (s.k - 1) / 2) * s.dilation;
}

/**
 * Largest relative error of forward / dx / dweight / dbias for one shape at the current thread count; with
 * `padded`, every sequence gets a random amount of left padding (from none to all), which reads as zeros.
 */
export function convErrors(s: ConvShape, seed: number, padded = false): Record<string, number> {
  const k = backend();
  const rng = new Rng(seed);
  const { B, L, Cin, Cout } = s;
  const starts = padded ? Int32Array.from({ length: B }, (_, b) => (b === 0 ? L : rng.int(0, L))) : null;
  const first = (b: number) => (starts ? starts[b]! : 0);
  const rand = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
  const x = rand(B * L * Cin), w = rand(s.k * Cin * Cout), bias = rand(Cout), dy = rand(B * L * Cout);
  const dx0 = rand(B * L * Cin), dw0 = rand(s.k * Cin * Cout), db0 = rand(Cout);
  const y = new Float32Array(B * L * Cout);
  k.conv1dForward(x, w, bias, y, B, L, Cin, Cout, s.k, s.dilation, s.causal, starts);
  const dx = dx0.slice(), dw = dw0.slice(), db = db0.slice();
  k.conv1dBackward(x, w, dy, dx, dw, db, B, L, Cin, Cout, s.k, s.dilation, s.causal, starts);

  const f64 = (a: Float32Array) => Float64Array.from(a);
  const yRef = conv1dRef(f64(x), f64(w), f64(bias), B, L, Cin, Cout, s.k, s.dilation, s.causal, starts);
  const dxRef = f64(dx0), dwRef = f64(dw0), dbRef = f64(db0);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < L; t++) {
      const n = b * L + t;
      for (let o = 0; o < Cout; o++) dbRef[o] += dy[n * Cout + o]!;
      for (let j = 0; j < s.k; j++) {
        const src = t + offset(s, j);
        if (t < first(b) || src < first(b) || src >= L) continue;
        const m = b * L + src;
        for (let c = 0; c < Cin; c++) {
          let acc = 0;
          for (let o = 0; o < Cout; o++) {
            const g = dy[n * Cout + o]!;
            acc += g * w[(j * Cin + c) * Cout + o]!;
            dwRef[(j * Cin + c) * Cout + o] += x[m * Cin + c]! * g;
          }
          dxRef[m * Cin + c] += acc;
        }
      }
    }
  return {
    forward: relativeError(y, yRef), dx: relativeError(dx, dxRef), dweight: relativeError(dw, dwRef),
    dbias: relativeError(db, dbRef),
  };
}

/** Every shape at 1 and 2 threads; returns the failures as readable lines. */
export function convShapeFailures(tol = 2e-5): string[] {
  const k = backend();
  const threads = k.info().threads;
  const failures: string[] = [];
  try {
    for (const [i, s] of CONV_SHAPES.entries())
      for (const t of [1, 2])
        for (const padded of [false, true]) {
          k.setThreads(t);
          for (const [what, err] of Object.entries(convErrors(s, 100 + i, padded)))
            if (!(err <= tol)) failures.push(`${JSON.stringify(s)} threads=${t}${padded ? ' padded' : ''} ${what}: relative error ${err}`);
        }
  } finally {
    k.setThreads(threads);
  }
  return failures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const failures = convShapeFailures();
  for (const f of failures) console.error(f);
  process.exit(failures.length > 0 ? 1 : 0);
}
