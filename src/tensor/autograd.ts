/**
 * Reverse-mode automatic differentiation. Each op's forward records a GradNode on its output when (and only
 * when) some input requires a gradient and no `noGrad` scope is active; `backward` walks the recorded graph from
 * a scalar in reverse topological order. Frozen tensors (requiresGrad=false) are never given gradient buffers,
 * and ops skip the kernels that would compute their gradients.
 */
import { AutogradError, ShapeError } from '../errors.js';
import { GradNode, Parameter, Tensor, currentScratchScope, recycleGradBuffers, shapeString } from './tensor.js';

let noGradDepth = 0;

/** Runs fn without recording any graph (inference, evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}

export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/** True when an op over these inputs must record its backward. */
export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (noGradDepth > 0) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Attaches a backward closure to `output` if any input requires a gradient. Returns output for chaining. */
export function record(output: Tensor, op: string, inputs: readonly Tensor[], backward: (g: Float32Array) => void): Tensor {
  if (!needsGrad(...inputs)) return output;
  output.requiresGrad = true;
  output.node = { op, inputs, scope: currentScratchScope(), backward } satisfies GradNode;
  return output;
}

/**
 * A row-sparse parameter given a gradient by an op that does not say which rows it touched gets a dense update:
 * otherwise the optimizer, seeing no marked rows, would skip it while its gradient accumulated forever.
 */
function noteUnknownRows(t: Tensor): void {
  if (t instanceof Parameter && t.rowSparse) t.allRowsTouched = true;
}

/**
 * Gradient buffer of `t` if it needs one, else null (kernels then skip that gradient entirely). The gradient may
 * touch any row (see rowGradIfNeeded for ops that record their rows).
 */
export function gradIfNeeded(t: Tensor | null | undefined): Float32Array | null {
  if (!t?.requiresGrad) return null;
  noteUnknownRows(t);
  return t.gradBuffer();
}

/** gradIfNeeded for ops that report the rows they write with noteRowGradient or noteDenseGradient. */
export function rowGradIfNeeded(t: Tensor | null | undefined): Float32Array | null {
  return t?.requiresGrad ? t.gradBuffer() : null;
}

/**
 * For kernels that produce every element of t's gradient: the buffer (null if t needs none) and whether the
 * kernel must overwrite it (t had no gradient yet; the buffer's contents are undefined) rather than accumulate.
 */
export function gradToWrite(t: Tensor | null | undefined): { grad: Float32Array | null; overwrite: boolean } {
  if (!t?.requiresGrad) return { grad: null, overwrite: false };
  noteUnknownRows(t);
  const { grad, fresh } = t.gradForWrite();
  return { grad, overwrite: fresh };
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep networks would overflow the JS stack with recursion.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.graphReleased) throw releasedGraphError(next);
      if (!visited.has(next) && next.requiresGrad) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

function releasedGraphError(t: Tensor): AutogradError {
  return new AutogradError(`backward() through a ${shapeString(t.shape)} tensor whose graph an earlier backward() `
    + 'released; compute it again (or sum the losses and call backward() once)');
}

/**
 * Backpropagates from a single-element tensor. Gradients accumulate into leaf tensors' `grad`; intermediate
 * gradients and the graph are released afterwards so memory does not grow across steps. A second backward()
 * through a released graph, or through one whose scratchScope has ended, throws: it would silently give no (or
 * wrong) gradients.
 */
export function backward(loss: Tensor): void {
  if (loss.size !== 1) throw new ShapeError(`backward() needs a scalar loss, got shape ${shapeString(loss.shape)}`);
  if (loss.graphReleased) throw releasedGraphError(loss);
  if (!loss.requiresGrad) throw new ShapeError('backward() on a tensor that does not require grad');
  const order = topologicalOrder(loss);
  for (const t of order) {
    if (t.node?.scope?.ended) {
      throw new AutogradError(`backward() through ${t.node.op}, recorded inside a scratchScope that has ended (its `
        + 'buffers were recycled); call backward() inside the scope');
    }
  }
  loss.gradBuffer()[0] = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    if (t.node && t.grad) t.node.backward(t.grad);
  }
  // Intermediate gradients are referred to only by their tensors (donation never reaches a leaf): once
  // released they can be reused by the next backward.
  const released = new Set<Float32Array>();
  for (const t of order) {
    if (t.node) {
      t.node = null;
      t.graphReleased = true;
      if (t.grad) released.add(t.grad);
      t.grad = null;
    }
  }
  recycleGradBuffers(released);
}

/**
 * Adds `g` into t's gradient. When t is an intermediate result that has no gradient yet and `mayDonate` is set,
 * t takes g itself instead of a zeroed copy plus an add: the caller promises g is not handed to anyone else.
 * Returns whether g was donated. (Pass-through ops such as add and reshape use this to avoid copies.)
 */
export function passGradient(t: Tensor, g: Float32Array, mayDonate: boolean, axpy: (y: Float32Array, a: number, x: Float32Array) => void): boolean {
  if (!t.requiresGrad) return false;
  if (mayDonate && t.grad === null && t.node !== null && g.length === t.size) {
    t.grad = g;
    return true;
  }
  const { grad, fresh } = t.gradForWrite();
  if (fresh) grad.set(g);
  else axpy(grad, 1, g);
  return false;
}

/** Row-sparse parameters learn which rows got a gradient, so the optimizer can update only those rows. */
export function noteRowGradient(t: Tensor, ids: Int32Array, markRows: (ids: Int32Array, mask: Uint8Array) => void): void {
  if (t instanceof Parameter && t.touchedRows) markRows(ids, t.touchedRows);
}

/** An op wrote a gradient into every row of `t` (e.g. a full softmax over an item table). */
export function noteDenseGradient(t: Tensor): void {
  if (t instanceof Parameter && t.rowSparse) t.allRowsTouched = true;
}
