/**
 * Micro-batching: requests for the same network that arrive close together go through it in one forward pass.
 * At batch size 1 the network's cost is mostly per-call overhead, so under concurrent load batching multiplies
 * throughput.
 *
 * The wait is adaptive and bounded: the first queued request schedules a check after the current event-loop
 * turn (setImmediate, i.e. after pending socket reads were parsed); while each turn brings more requests and
 * `waitMs` has not passed since the first, it waits one more turn, otherwise it runs the batch. An idle server
 * thus answers a lone request at once, and a loaded one collects everything that arrived meanwhile — up to
 * `waitMs` of extra latency, or `maxBatch` requests. waitMs = 0 runs every request on its own (no batching).
 */
/** Counts over every batch a group of batchers ran: how much batching actually happened. */
export interface BatchStats {
  batches: number;
  requests: number;
  largest: number;
}

export function emptyBatchStats(): BatchStats {
  return { batches: 0, requests: 0, largest: 0 };
}

export class MicroBatcher<In, Out> {
  private queue: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;
  private deadline = 0;
  private seen = 0;
  /** Bumped by every flush, so a check scheduled for an already-flushed batch does nothing. */
  private generation = 0;

  constructor(
    private readonly run: (inputs: In[]) => Out[],
    private readonly options: { waitMs: number; maxBatch: number; stats?: BatchStats },
  ) {}

  private count(size: number): void {
    const stats = this.options.stats;
    if (!stats) return;
    stats.batches++;
    stats.requests += size;
    stats.largest = Math.max(stats.largest, size);
  }

  submit(input: In): Promise<Out> {
    if (this.options.waitMs <= 0) {
      try {
        this.count(1);
        return Promise.resolve(this.run([input])[0]!);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        this.deadline = performance.now() + this.options.waitMs;
        this.seen = 0;
        const generation = this.generation;
        setImmediate(() => this.check(generation));
      }
    });
  }

  private check(generation: number): void {
    if (generation !== this.generation) return;
    if (this.queue.length > this.seen && performance.now() < this.deadline) {
      this.seen = this.queue.length;
      setImmediate(() => this.check(generation));
    } else {
      this.flush();
    }
  }

  /** Runs everything queued now. */
  flush(): void {
    this.scheduled = false;
    this.generation++;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.count(batch.length);
    let outputs: Out[];
    try {
      outputs = this.run(batch.map((q) => q.input));
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => q.resolve(outputs[i]!));
  }
}
