import { ShapeError } from '../errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Recycled gradient buffers of released graphs, by length. A training step allocates the same intermediate
 * gradients every time (tens of MB): reusing them skips zero-filling fresh memory, its page faults and the
 * garbage collection of the old buffers. Only `backward` returns buffers here, once nothing refers to them.
 */
const gradPool = new Map<number, Float32Array[]>();
let pooledFloats = 0;
const POOL_LIMIT_FLOATS = 64 * 1024 * 1024;

/** Hands buffers that nothing refers to any more back for reuse (each buffer at most once). */
export function recycleGradBuffers(buffers: Iterable<Float32Array>): void {
  for (const b of buffers) {
    if (b.length === 0 || pooledFloats + b.length > POOL_LIMIT_FLOATS) continue;
    let list = gradPool.get(b.length);
    if (!list) gradPool.set(b.length, (list = []));
    list.push(b);
    pooledFloats += b.length;
  }
}

/** A buffer of n floats with undefined contents: recycled when one is pooled, else fresh. */
function uninitialisedFloats(n: number): Float32Array {
  const b = gradPool.get(n)?.pop();
  if (b) {
    pooledFloats -= n;
    return b;
  }
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

/** Buffers handed out inside the active scratch scope, returned to the pool when it ends. */
let scopeBuffers: Float32Array[] | null = null;

/**
 * Runs fn with op outputs and op scratch buffers (`Tensor.empty`, `scratchFloats`) taken from the pool and
 * returned to it when fn returns, so a loop of identical steps (training) stops allocating, page-faulting and
 * garbage-collecting its activations. The caller promises that no tensor made inside is used after fn returns.
 * Nested scopes belong to the outermost one.
 */
export function scratchScope<T>(fn: () => T): T {
  if (scopeBuffers) return fn();
  const mine: Float32Array[] = [];
  scopeBuffers = mine;
  try {
    return fn();
  } finally {
    scopeBuffers = null;
    recycleGradBuffers(mine);
  }
}

/** n floats with undefined contents for a kernel that writes them all (from the pool inside a scratch scope). */
export function scratchFloats(n: number): Float32Array {
  if (!scopeBuffers || n === 0) return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
  const b = uninitialisedFloats(n);
  scopeBuffers.push(b);
  return b;
}

/**
 * How a tensor was made: the inputs it depends on and a closure that, given the gradient of the output,
 * accumulates gradients into those inputs that require them. Recorded only when some input requires grad.
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  backward(gradOutput: Float32Array): void;
}

/** A float32 tensor, row-major. `grad` is allocated lazily on the first gradient accumulation. */
export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;
  requiresGrad: boolean;
  grad: Float32Array | null = null;
  node: GradNode | null = null;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`data has ${data.length} elements but shape ${shapeString(shape)} needs ${n}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
  }

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)), shape, requiresGrad);
  }

  /**
   * A tensor whose contents are undefined, for op outputs a kernel overwrites completely: skips zero-filling
   * and lets the allocator hand back recently freed memory.
   */
  static empty(shape: Shape): Tensor {
    return new Tensor(scratchFloats(sizeOf(shape)), shape);
  }

  static from(values: ArrayLike<number>, shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad);
  }

  get size(): number {
    return this.data.length;
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuffer(): Float32Array {
    this.grad ??= uninitialisedFloats(this.data.length).fill(0);
    return this.grad;
  }

  /**
   * The gradient buffer for a writer that fills every element: when there is none yet, a new one with undefined
   * contents and `fresh` set, so the writer overwrites it instead of accumulating into zeros.
   */
  gradForWrite(): { grad: Float32Array; fresh: boolean } {
    if (this.grad) return { grad: this.grad, fresh: false };
    this.grad = uninitialisedFloats(this.data.length);
    return { grad: this.grad, fresh: true };
  }

  /** Last dimension and the number of rows before it, for kernels that work on [rows, C]. */
  rowsAndCols(): [number, number] {
    const C = this.shape[this.shape.length - 1] ?? 1;
    return [C === 0 ? 0 : this.size / C, C];
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a single-element tensor, got ${shapeString(this.shape)}`);
    return this.data[0]!;
  }
}

/**
 * A trainable tensor with a stable name (the checkpoint key). `rowSparse` marks embedding-like tables whose
 * gradient touches only some rows per step: ops record those rows so the optimizer updates only them.
 */
export class Parameter extends Tensor {
  readonly name: string;
  readonly rowSparse: boolean;
  /** Rows with a gradient since the last optimizer step (row-sparse parameters only). */
  readonly touchedRows: Uint8Array | null;
  /** Set when some op produced a gradient for every row, so the next update must be dense. */
  allRowsTouched = false;

  constructor(name: string, data: Float32Array, shape: Shape, options: { requiresGrad?: boolean; rowSparse?: boolean } = {}) {
    super(data, shape, options.requiresGrad ?? true);
    this.name = name;
    this.rowSparse = options.rowSparse ?? false;
    if (this.rowSparse && shape.length === 0) {
      throw new ShapeError(`row-sparse parameter ${name} needs at least one dimension`);
    }
    this.touchedRows = this.rowSparse ? new Uint8Array(shape[0]!) : null;
  }

  /** Elements per row (per index of the first dimension): the unit of a row-sparse update. */
  get rowSize(): number {
    return this.shape.length === 0 || this.shape[0] === 0 ? 1 : this.size / this.shape[0]!;
  }
}
