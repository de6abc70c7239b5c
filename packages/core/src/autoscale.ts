import type { Consumer, JobHandler, QueueAdapter } from "./contracts/queue.js";
import type { Logger } from "./contracts/task.js";
import { ConfigError } from "./errors.js";

/**
 * Autoscaling of a worker's concurrency (Celery's `--autoscale=max,min`): the worker runs at
 * least `min` jobs at once, grows by `step` while its queues have waiting jobs and every slot is
 * busy, and shrinks by `step` after its queues have had no waiting job for `scaleDownAfterMs`.
 *
 * @example
 * ```ts
 * import type { AutoscaleOptions } from "@conveyor/core";
 *
 * const autoscale: AutoscaleOptions = { min: 2, max: 16, intervalMs: 1_000, scaleDownAfterMs: 30_000 };
 * ```
 */
export interface AutoscaleOptions {
  /** Fewest jobs run at once, kept while idle; 0 claims nothing until jobs wait. */
  min: number;
  /** Most jobs run at once; never exceeded. */
  max: number;
  /** How often the queues' waiting counts are read. @defaultValue 1_000 */
  intervalMs?: number;
  /** Slots added or removed at a time. @defaultValue `max(1, ceil((max - min) / 4))` */
  step?: number;
  /** How long the queues must have had no waiting job before one step is removed. @defaultValue 30_000 */
  scaleDownAfterMs?: number;
}

/** A worker's concurrency: a fixed number of jobs at once, or a range it autoscales in. */
export type WorkerConcurrency = number | AutoscaleOptions;

/** Concurrency after defaults, checked. */
export interface ResolvedConcurrency {
  min: number;
  max: number;
  /** Whether it scales (`min < max`). */
  autoscale: boolean;
  intervalMs: number;
  step: number;
  scaleDownAfterMs: number;
}

const isWhole = (value: unknown, least: number): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= least;

/**
 * Applies the defaults to a worker's `concurrency` and checks it; throws a `ConfigError` that
 * names the wrong field.
 */
export function resolveConcurrency(value: WorkerConcurrency, where = "worker"): ResolvedConcurrency {
  if (typeof value === "number") {
    if (!isWhole(value, 1)) {
      throw new ConfigError(
        `${where} concurrency must be a whole number of at least 1, got ${value}. Pass e.g. concurrency: 4, or { min: 1, max: 8 } to autoscale.`,
      );
    }
    return { min: value, max: value, autoscale: false, intervalMs: 1_000, step: 1, scaleDownAfterMs: 30_000 };
  }
  if (!value || typeof value !== "object") {
    throw new ConfigError(
      `${where} concurrency must be a number or { min, max }, got ${JSON.stringify(value)}.`,
    );
  }
  const { min, max } = value;
  if (!isWhole(min, 0)) {
    throw new ConfigError(
      `${where} concurrency.min must be a whole number of at least 0, got ${String(min)}.`,
    );
  }
  if (!isWhole(max, 1)) {
    throw new ConfigError(
      `${where} concurrency.max must be a whole number of at least 1, got ${String(max)}.`,
    );
  }
  if (min > max) {
    throw new ConfigError(
      `${where} concurrency.min (${min}) is above concurrency.max (${max}). Swap them, or give one number for a fixed concurrency.`,
    );
  }
  const step = value.step ?? Math.max(1, Math.ceil((max - min) / 4));
  const intervalMs = value.intervalMs ?? 1_000;
  const scaleDownAfterMs = value.scaleDownAfterMs ?? 30_000;
  if (!isWhole(step, 1)) {
    throw new ConfigError(`${where} concurrency.step must be a whole number of at least 1, got ${step}.`);
  }
  for (const [field, ms] of [
    ["intervalMs", intervalMs],
    ["scaleDownAfterMs", scaleDownAfterMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms < (field === "intervalMs" ? 1 : 0)) {
      throw new ConfigError(
        `${where} concurrency.${field} must be a positive number of milliseconds, got ${ms}.`,
      );
    }
  }
  return { min, max, autoscale: min < max, intervalMs, step, scaleDownAfterMs };
}

/** What a {@link ConsumerGroup} consumes with. */
export interface ConsumerGroupOptions {
  queues: readonly string[];
  workerId: string;
  leaseMs?: number;
  log: Logger;
}

/** Jobs the consumers run now. */
function activeOf(consumers: Iterable<Consumer>): number {
  let sum = 0;
  for (const consumer of consumers) sum += consumer.active;
  return sum;
}

/**
 * The consumers of one worker. A fixed concurrency is one consumer; an autoscaled one is a base
 * consumer of `min` slots plus one consumer per added step, because the Queue contract's
 * `concurrency` is fixed for a consumer's life. Added consumers use the worker id with a `+n`
 * suffix (so the adapters' per-claim bookkeeping never mixes two consumers). A removed step
 * stops claiming at once and drains its running jobs; they count against `max` until they end.
 */
export class ConsumerGroup {
  private readonly live: Consumer[] = [];
  private readonly sizes: number[] = [];
  private readonly draining = new Set<Consumer>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private idleSince: number | undefined;
  private closed = false;
  private added = 0;
  private warned = false;

  constructor(
    private readonly queue: QueueAdapter,
    private readonly handler: JobHandler,
    private readonly settings: ResolvedConcurrency,
    private readonly options: ConsumerGroupOptions,
  ) {
    if (settings.min > 0) this.add(settings.min, options.workerId);
    if (settings.autoscale) {
      this.timer = setInterval(() => void this.tick(), settings.intervalMs);
      this.timer.unref();
    }
  }

  /** Slots of the consumers that claim now. */
  get concurrency(): number {
    let sum = 0;
    for (const size of this.sizes) sum += size;
    return sum;
  }

  /** Jobs running now, in claiming and draining consumers. */
  get active(): number {
    return activeOf(this.live) + activeOf(this.draining);
  }

  /** Reads the queues' depth once and scales one step if needed (the interval calls it). */
  async tick(now = Date.now()): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      let waiting = 0;
      for (const name of this.options.queues) waiting += (await this.queue.counts(name)).waiting;
      this.warned = false;
      if (this.closed) return;
      const { min, max, step, scaleDownAfterMs } = this.settings;
      const current = this.concurrency;
      if (waiting > 0) {
        this.idleSince = undefined;
        const room = max - current - activeOf(this.draining);
        if (activeOf(this.live) >= current && room > 0) {
          const size = Math.min(step, room);
          this.added += 1;
          this.add(size, `${this.options.workerId}+${this.added}`);
          this.options.log.info("worker concurrency grows", {
            worker: this.options.workerId,
            from: current,
            to: current + size,
            waiting,
          });
        }
        return;
      }
      this.idleSince ??= now;
      if (current > min && now - this.idleSince >= scaleDownAfterMs) {
        this.idleSince = now;
        this.removeLast();
        this.options.log.info("worker concurrency shrinks", {
          worker: this.options.workerId,
          from: current,
          to: this.concurrency,
        });
      }
    } catch (error) {
      if (!this.warned)
        this.options.log.warn("autoscale could not read the queue depth; concurrency stays as is", {
          worker: this.options.workerId,
          error: String(error),
        });
      this.warned = true;
    } finally {
      this.ticking = false;
    }
  }

  /** Stops scaling and closes every consumer (see `Consumer.close`). */
  async close(options: { drain: boolean }): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const all = [...this.live, ...this.draining];
    await Promise.all(all.map((consumer) => consumer.close(options)));
  }

  private add(size: number, workerId: string): void {
    const { queues, leaseMs } = this.options;
    this.live.push(
      this.queue.consume(
        { queues, concurrency: size, workerId, ...(leaseMs !== undefined ? { leaseMs } : {}) },
        this.handler,
      ),
    );
    this.sizes.push(size);
  }

  private removeLast(): void {
    const consumer = this.live.pop();
    this.sizes.pop();
    if (!consumer) return;
    this.draining.add(consumer);
    consumer.close({ drain: true }).then(
      () => this.draining.delete(consumer),
      (error: unknown) => {
        this.draining.delete(consumer);
        this.options.log.warn("a removed autoscale step failed to drain", {
          worker: this.options.workerId,
          error: String(error),
        });
      },
    );
  }
}
