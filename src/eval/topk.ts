/**
 * The k best-scoring indices of a score row, best first (ties: lower index first), with a bounded min-heap:
 * O(n log k) instead of sorting the whole catalogue, which matters when a server answers many requests.
 */
export function topKIndices(scores: Float32Array, k: number, from: number, to: number,
  accept: (index: number) => boolean = () => true): Int32Array {
  // heap[0] is the worst of the kept candidates.
  const heap: number[] = [];
  const worse = (a: number, b: number) => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  if (k <= 0) return new Int32Array(0);
  for (let v = from; v < to; v++) {
    if (Number.isNaN(scores[v]) || !accept(v)) continue;
    if (heap.length < k) {
      heap.push(v);
      for (let i = heap.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (worse(heap[0]!, v)) {
      heap[0] = v;
      siftDown(0);
    }
  }
  return Int32Array.from(heap).sort((a, b) => scores[b]! - scores[a]! || a - b);
}
