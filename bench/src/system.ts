/** What every benchmarked system implements, and the pieces both sides share. */

/**
 * How completion is observed, the same way on both sides:
 * - `events`: as another part of the application would see it: Conveyor's `completed` event
 *   (emitted once the outcome is stored), the promise fastq's `push` returns.
 * - `task`: inside the task, when it runs; Conveyor then has no event subscriber at all.
 */
export type Observe = "events" | "task";

/** The input of every job: its index, which `task` observation uses to match timestamps. */
export interface JobInput {
  i: number;
}

let onRun: (input: JobInput) => void = () => {};

/** Sets what the no-op task calls with its input (`task` observation); `undefined` resets it. */
export function observeRuns(listener: ((input: JobInput) => void) | undefined): void {
  onRun = listener ?? (() => {});
}

/** The work of every job on both sides: nothing but the observation hook, synchronously. */
export const noop = (input: JobInput): undefined => {
  onRun(input);
  return undefined;
};

/** One throughput round: enqueue every input in chunks, then process the backlog. */
export interface ThroughputOptions {
  /** One input per job, allocated before the clock starts. */
  inputs: readonly JobInput[];
  /** Jobs per bulk enqueue call. */
  chunk: number;
  /** Jobs processed at once. */
  concurrency: number;
  observe: Observe;
}

/** Timings of one throughput round, in ms. */
export interface ThroughputRun {
  /** From the first enqueue call until the last chunk was stored (no worker running). */
  enqueueMs: number;
  /** From starting the worker until the last job was reported completed. */
  processMs: number;
  /**
   * CPU time of the whole process (user + system, every thread, GC included) over both phases,
   * in µs: steadier than wall time on a machine shared with other work.
   */
  cpuUs: number;
}

/** CPU µs the process used since `since` (from `process.cpuUsage()`). */
export function cpuSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/** One latency round: jobs enqueued one by one at a fixed rate while a worker runs. */
export interface LatencyOptions {
  inputs: readonly JobInput[];
  /** Job ids, one per input, so completions can be matched to enqueue times. */
  ids: readonly string[];
  concurrency: number;
  ratePerSecond: number;
  observe: Observe;
}

/** Per job: when it was enqueued and when its completion was reported (`performance.now()`). */
export interface LatencyRun {
  started: Float64Array;
  ended: Float64Array;
}

/** A queue under test. */
export interface BenchSystem {
  readonly name: string;
  throughput(options: ThroughputOptions): Promise<ThroughputRun>;
  latency(options: LatencyOptions): Promise<LatencyRun>;
}

/** Counts completions and settles once `total` arrived, or fails on the first error or a stall. */
export class Completion {
  private count = 0;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private timer: NodeJS.Timeout | undefined;
  /** Settles when every job completed; rejects on `fail` or when `stallMs` pass without progress. */
  readonly done: Promise<void>;

  constructor(
    private readonly total: number,
    label: string,
    stallMs = 30_000,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A stuck adapter must fail the run with a count, not hang the benchmark.
    this.done.then(
      () => clearInterval(this.timer),
      () => clearInterval(this.timer),
    );
    let last = -1;
    this.timer = setInterval(() => {
      if (this.count === last)
        this.fail(new Error(`${label}: stalled at ${this.count} of ${total} completed jobs`));
      last = this.count;
    }, stallMs);
    this.timer.unref();
    if (total === 0) this.resolve();
  }

  /** Records one completed job. */
  add(): void {
    if (++this.count === this.total) this.resolve();
  }

  /** Fails the run. */
  fail(error: Error): void {
    this.reject(error);
  }

  get completed(): number {
    return this.count;
  }
}

/**
 * Calls `send(i)` for i = 0..total-1 at `ratePerSecond` on average: every timer tick sends the
 * jobs that are due by the clock, so timer lateness makes small bursts instead of a lower rate.
 */
export async function paced(
  total: number,
  ratePerSecond: number,
  send: (index: number) => void,
): Promise<void> {
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * ratePerSecond) / 1000) + 1);
    while (sent < due) send(sent++);
    if (sent < total) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
