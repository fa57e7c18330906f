import { AutogradError, ShapeError } from '../errors.js';

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
 * Debug mode (GRAFTREC_DEBUG=1, or setDebugMode): recycled buffers are filled with NaN, and a tensor whose buffer
 * was recycled (it escaped its scratchScope, or it belonged to a released graph) throws when its data is read,
 * instead of silently sharing memory with whatever reuses the buffer. Costs a fill per recycled buffer and a check
 * per data access; the test suite runs with it.
 */
let debugMode = process.env.GRAFTREC_DEBUG === '1';

export function setDebugMode(on: boolean): void {
  debugMode = on;
}

export function isDebugMode(): boolean {
  return debugMode;
}

/** Debug mode: how many times each buffer has been recycled; a tensor remembers the count it was made at. */
const bufferGenerations = new WeakMap<Float32Array, number>();

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
    if (debugMode) {
      b.fill(Number.NaN);
      bufferGenerations.set(b, (bufferGenerations.get(b) ?? 0) + 1);
    }
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

/** The active scratch scope: buffers handed out inside it, returned to the pool when it ends. */
export interface ScratchScope {
  buffers: Float32Array[];
  /** Set when the scope has ended: graphs recorded inside it can no longer be differentiated. */
  ended: boolean;
}

let activeScope: ScratchScope | null = null;

/** The scope whose buffers an op's scratch comes from (null outside any scope). */
export function currentScratchScope(): ScratchScope | null {
  return activeScope;
}

/** Tensors in a scope's return value (a tensor, or an array or plain object of them, one level deep). */
function returnedTensors(value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (Array.isArray(value)) return value.filter((v): v is Tensor => v instanceof Tensor);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).filter((v): v is Tensor => v instanceof Tensor);
  }
  return [];
}

/**
 * Runs fn with op outputs and op scratch buffers (`Tensor.empty`, `scratchFloats`) taken from the pool and
 * returned to it when fn returns, so a loop of identical steps (training) stops allocating, page-faulting and
 * garbage-collecting its activations. Tensors fn returns (directly, or in an array or plain object) keep their
 * memory; any other tensor made inside must not be used after fn returns (debug mode throws if one is), and a
 * graph recorded inside cannot be differentiated afterwards (its scratch is gone). Nested scopes belong to the
 * outermost one.
 */
export function scratchScope<T>(fn: () => T): T {
  if (activeScope) return fn();
  const mine: ScratchScope = { buffers: [], ended: false };
  activeScope = mine;
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    activeScope = null;
    mine.ended = true;
    const kept = new Set(returnedTensors(result).map((t) => t.data));
    recycleGradBuffers(kept.size > 0 ? mine.buffers.filter((b) => !kept.has(b)) : mine.buffers);
  }
}

/** n floats with undefined contents for a kernel that writes them all (from the pool inside a scratch scope). */
export function scratchFloats(n: number): Float32Array {
  if (!activeScope || n === 0) return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
  const b = uninitialisedFloats(n);
  activeScope.buffers.push(b);
  return b;
}

/**
 * How a tensor was made: the inputs it depends on and a closure that, given the gradient of the output,
 * accumulates gradients into those inputs that require them. Recorded only when some input requires grad.
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The scratch scope the op's buffers came from (null outside any). */
  readonly scope: ScratchScope | null;
  backward(gradOutput: Float32Array): void;
}

/** A float32 tensor, row-major. `grad` is allocated lazily on the first gradient accumulation. */
export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;
  requiresGrad: boolean;
  grad: Float32Array | null = null;
  node: GradNode | null = null;
  /** Set when a backward pass released this tensor's graph: it cannot be differentiated through again. */
  graphReleased = false;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`data has ${data.length} elements but shape ${shapeString(shape)} needs ${n}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
    if (debugMode) guardData(this, data);
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

/** Debug mode: reading t.data throws once its buffer has been recycled since t was made. */
function guardData(t: Tensor, data: Float32Array): void {
  const lease = bufferGenerations.get(data) ?? 0;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    get(): Float32Array {
      if ((bufferGenerations.get(data) ?? 0) !== lease) {
        throw new AutogradError(`a tensor of shape ${shapeString(t.shape)} was used after its buffer was recycled `
          + '(it escaped the scratchScope that made it, or its graph was released); return it from the scope or copy it');
      }
      return data;
    },
  });
}

/**
 * Counts writes to parameter values (optimizer steps, loaded weights), so a value derived from parameters without
 * a graph (an encoded item table for scoring) can be cached until the parameters change.
 */
let parameterWrites = 0;

export function noteParameterWrite(): void {
  parameterWrites++;
}

export function parameterWriteCount(): number {
  return parameterWrites;
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
