/**
 * Micro-batching: requests that arrive within `waitMs` of the first queued one (or until `maxBatch` are queued)
 * go through the model together, one forward pass for the whole batch. The network's cost is dominated by
 * per-call overheads at batch size 1, so under concurrent load this multiplies throughput, at the price of at
 * most `waitMs` extra latency. waitMs = 0 runs every request on its own (no batching).
 */
export class MicroBatcher<In, Out> {
  private queue: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: (inputs: In[]) => Out[],
    private readonly options: { waitMs: number; maxBatch: number },
  ) {}

  submit(input: In): Promise<Out> {
    if (this.options.waitMs <= 0) {
      try {
        return Promise.resolve(this.run([input])[0]!);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.waitMs);
    });
  }

  /** Runs everything queued now (also called by the timer). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
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
