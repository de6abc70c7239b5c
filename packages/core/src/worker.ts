import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { ConsumerGroup, resolveConcurrency, type WorkerConcurrency } from "./autoscale.js";
import type { Cache } from "./contracts/cache.js";
import type { Progress } from "./contracts/job.js";
import type { ActiveJob, JobHandler, Outcome, QueueAdapter } from "./contracts/queue.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { Logger, Resource, Task, TaskContext } from "./contracts/task.js";
import type { Conveyor } from "./conveyor.js";
import {
  ConfigError,
  isConveyorError,
  SoftTimeoutError,
  serializeError,
  TimeoutError,
  UnknownTaskError,
  ValidationError,
} from "./errors.js";
import { childLogger } from "./logger.js";
import { toProgress } from "./progress.js";
import type { ResourcePool } from "./resources.js";
import { SandboxPool, type SandboxRun } from "./sandbox.js";
import { validate } from "./schema.js";
import { decideAfterError } from "./state-machine.js";
import { traceJobHandler } from "./tracing.js";

/** Options of {@link Conveyor.worker}. */
export interface WorkerOptions {
  /** Queues to consume. @defaultValue the config's `worker.queues`, else every queue of the registered tasks */
  queues?: string[];
  /**
   * Jobs run at once; never exceeded. A number is fixed; `{ min, max }` autoscales between the
   * two by the queues' waiting counts (see {@link AutoscaleOptions}).
   * @defaultValue the config's `worker.concurrency`, else 1
   */
  concurrency?: WorkerConcurrency;
  /** Worker id shown in job records and inspect output. @defaultValue `<host>:<pid>:<random>` */
  id?: string;
  /**
   * Close gracefully on SIGTERM/SIGINT: the first signal drains (running jobs finish), a second
   * one closes at once (running jobs are released to another worker).
   * @defaultValue false
   */
  handleSignals?: boolean;
  /** Lease length for adapters with leases. @defaultValue the adapter's default */
  leaseMs?: number;
  /**
   * Recycle after this many jobs (Celery's `max_tasks_per_child`): once the worker has started
   * this many, it stops claiming, lets the running ones finish and closes; `closed` resolves with
   * `{ reason: "recycle" }`. `conveyor worker` then replaces the process with a fresh one.
   * Jobs already claimed when the limit is reached still run, so a few more may run.
   * @defaultValue no limit
   */
  maxJobsPerProcess?: number;
  /**
   * Recycle once the process's resident memory (RSS) exceeds this many MiB after a job ends
   * (Celery's `max_memory_per_child`); same drain and close as {@link WorkerOptions.maxJobsPerProcess}.
   * @defaultValue no limit
   */
  maxMemoryPerProcessMb?: number;
}

/** Why a worker recycled itself; see {@link WorkerOptions.maxJobsPerProcess}. */
export interface RecycleInfo {
  /** The limit reached. */
  limit: "jobs" | "memory";
  /** Jobs the worker had started. */
  jobs: number;
  /** The process's resident memory in MiB when the limit was reached. */
  rssMb: number;
}

/** How a worker ended: `closed` resolves with it. */
export interface WorkerExit {
  /** `close`: `close()` was called (or a remote shutdown); `signal`: SIGTERM/SIGINT; `recycle`: a per-process limit. */
  reason: "close" | "signal" | "recycle";
  /** Set when `reason` is `recycle`. */
  recycle?: RecycleInfo;
}

/** Options of {@link Worker.close}. */
export interface CloseOptions {
  /**
   * `true` waits for running jobs to finish; `false` aborts them (their signal's reason is a
   * `WorkerClosingError`) and releases their jobs to run again elsewhere.
   * @defaultValue true
   */
  drain?: boolean;
}

/** A running worker. */
export interface Worker {
  /** The worker id. */
  readonly id: string;
  /** Queues it consumes. */
  readonly queues: readonly string[];
  /** Maximum jobs at once now (changes over time when it autoscales). */
  readonly concurrency: number;
  /** The range it autoscales in, when `concurrency` was given as `{ min, max }`. */
  readonly autoscale: { readonly min: number; readonly max: number } | undefined;
  /** Jobs running now. */
  readonly active: number;
  /** Jobs it has started since it started. */
  readonly processed: number;
  /** Resolves when the worker has closed (after `close()`, a handled signal or a recycle), saying why. */
  readonly closed: Promise<WorkerExit>;
  /** Stops taking jobs; see {@link CloseOptions}. Safe to call more than once. */
  close(options?: CloseOptions): Promise<void>;
}

/** What the job handler needs from the platform. */
export interface HandlerContext {
  tasks: ReadonlyMap<string, Task>;
  cache: Cache;
  rateLimiter: RateLimiter;
  resources: ResourcePool;
  log: Logger;
  resultTtlMs: number;
  failedTtlMs: number | undefined;
  /** Run each job in an OpenTelemetry span when an SDK is registered. @defaultValue false */
  tracing?: boolean;
  /** The platform handed to tasks as `ctx.conveyor`; reading it without one throws a `ConfigError`. */
  conveyor?: Conveyor;
  /**
   * Where tasks with a `sandbox` run; the worker closes it. @defaultValue a pool made on first
   * use, whose idle sandboxes do not keep the process alive
   */
  sandboxes?: SandboxPool;
}

const NOT_ABORTED = Symbol("not aborted");

const isCode = (error: unknown, code: string) => isConveyorError(error) && error.code === code;

/**
 * The core's per-job function, shared by every adapter: finds the task, validates the input,
 * applies the rate limit and the result cache, runs the task under its time limits and turns
 * whatever happens into an {@link Outcome}. It never rejects.
 *
 * This is the hot path of every worker: it allocates little per job, creates no AbortSignal
 * unless the task reads `ctx.signal` or has a soft limit, and awaits only what is asynchronous.
 */
export function createJobHandler(context: HandlerContext): JobHandler {
  const { tasks, cache, rateLimiter, log } = context;
  const known = () => [...tasks.keys()].sort();
  let ownPool: SandboxPool | undefined;
  const sandboxes = () => {
    ownPool ??= context.sandboxes ?? new SandboxPool({ cache, rateLimiter, log });
    return ownPool;
  };

  const handler = async (job: ActiveJob): Promise<Outcome> => {
    const record = job.record;
    let abortReason: unknown = NOT_ABORTED;
    let onAborted: ((reason: unknown) => void) | undefined;
    job.onAbort((reason) => {
      abortReason = reason;
      onAborted?.(reason);
    });

    const aborted = (): Outcome => {
      if (isCode(abortReason, "WORKER_CLOSING") || isCode(abortReason, "LEASE_LOST")) {
        // The adapter has already released the job (or lost it to another worker); it ignores this outcome.
        return { type: "postpone", runAt: Date.now(), reason: "claim ended" };
      }
      return {
        type: "cancelled",
        error: serializeError(abortReason, record.attempt),
        expiresAt: Date.now() + context.resultTtlMs,
      };
    };
    const failure = (error: unknown): Outcome => {
      const stored = serializeError(error, record.attempt);
      if (isConveyorError(error) && !error.retryable) stored.retryable = false;
      const now = Date.now();
      return decideAfterError(
        record,
        stored,
        now,
        context.failedTtlMs !== undefined ? { failedExpiresAt: now + context.failedTtlMs } : {},
      );
    };

    const task = tasks.get(record.task);
    if (!task) return failure(new UnknownTaskError(record.task, known(), { retryable: false }));
    let sandboxed: SandboxRun | undefined;

    try {
      const input = task.input
        ? await validate(task.input, record.input, `input of task "${task.name}" (job ${record.id})`)
        : record.input;

      if (task.rateLimit) {
        const key = `task:${task.name}${task.rateLimit.key ? `:${task.rateLimit.key(input)}` : ""}`;
        const answer = await rateLimiter.consume(key, task.rateLimit);
        if (!answer.allowed) {
          return {
            type: "postpone",
            runAt: Date.now() + Math.max(1, answer.resetMs),
            reason: `rate limit ${key}`,
          };
        }
      }

      let cacheKey: string | undefined;
      if (task.cache) {
        cacheKey = task.cache.key(input);
        const hit = await cache.get(cacheKey).catch((error) => {
          log.warn("cache read failed; running the task", { task: task.name, error: String(error) });
          return undefined;
        });
        if (abortReason !== NOT_ABORTED) return aborted();
        if (hit !== undefined)
          return { type: "completed", result: hit, expiresAt: Date.now() + context.resultTtlMs };
      }
      // Cancelled or released while validating, rate limiting or reading the cache: never start.
      if (abortReason !== NOT_ABORTED) return aborted();

      const timeoutMs = record.timeoutMs ?? task.timeoutMs;
      // Aborted at the soft limit (SoftTimeoutError), else at the hard one (TimeoutError), so a
      // cooperative task stops before its next attempt starts.
      let limits: AbortController | undefined;
      if (task.softTimeoutMs !== undefined || timeoutMs !== undefined) limits = new AbortController();
      const ctx = new JobContext(job, task, context, limits?.signal);
      let result: unknown;
      if (task.sandbox) {
        sandboxed = sandboxes().run(task, input, ctx);
        result = sandboxed.result;
      } else {
        result = task.run(input, ctx);
      }
      if (isThenable(result)) {
        result = await settleWithin(result, task, record, timeoutMs, limits, (reject) => {
          onAborted = reject;
          if (abortReason !== NOT_ABORTED) reject(abortReason);
        });
      }
      if (abortReason !== NOT_ABORTED) return aborted();

      let output = result;
      if (task.output) {
        try {
          output = await validate(task.output, result, `output of task "${task.name}" (job ${record.id})`);
        } catch (error) {
          throw error instanceof ValidationError
            ? new ValidationError(`output of task "${task.name}" (job ${record.id})`, error.issues, {
                retryable: false,
              })
            : error;
        }
      }
      if (cacheKey !== undefined && output !== undefined) {
        await cache
          .set(cacheKey, output, task.cache?.ttlMs !== undefined ? { ttlMs: task.cache.ttlMs } : {})
          .catch((error) => {
            log.warn("cache write failed; the result is still stored with the job", {
              task: task.name,
              error: String(error),
            });
          });
      }
      return { type: "completed", result: output, expiresAt: Date.now() + context.resultTtlMs };
    } catch (error) {
      // A sandboxed task past its hard limit, cancelled or released is killed, not abandoned.
      sandboxed?.kill();
      if (abortReason !== NOT_ABORTED) return aborted();
      return failure(error);
    }
  };
  return context.tracing ? traceJobHandler(handler) : handler;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * Waits for a task's promise under the job's limits. Rejects with a `TimeoutError` at the hard
 * limit, or with the abort reason when the job is aborted; the task's own promise is then
 * abandoned (in-process code cannot be killed).
 */
function settleWithin(
  running: PromiseLike<unknown>,
  task: Task,
  record: ActiveJob["record"],
  timeoutMs: number | undefined,
  limits: AbortController | undefined,
  watchAbort: (reject: (reason: unknown) => void) => void,
): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    let hardTimer: NodeJS.Timeout | undefined;
    let softTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (settle: (value: unknown) => void, value: unknown) => {
      if (settled) return;
      settled = true;
      if (hardTimer) clearTimeout(hardTimer);
      if (softTimer) clearTimeout(softTimer);
      settle(value);
    };
    if (timeoutMs !== undefined) {
      hardTimer = setTimeout(() => {
        const error = new TimeoutError(
          `attempt ${record.attempt} of job ${record.id} (task "${task.name}")`,
          timeoutMs,
          "Raise timeoutMs, make the task faster, or stop early on ctx.signal (softTimeoutMs).",
        );
        limits?.abort(error);
        done(reject, error);
      }, timeoutMs);
    }
    if (limits && task.softTimeoutMs !== undefined) {
      const softMs = task.softTimeoutMs;
      softTimer = setTimeout(() => limits.abort(new SoftTimeoutError(softMs)), softMs);
    }
    watchAbort((reason) => done(reject, reason));
    running.then(
      (value) => done(resolve, value),
      (error) => done(reject, error),
    );
  });
}

/** The context of one job; a class so its members live on one prototype, not in per-job closures. */
class JobContext implements TaskContext {
  private logger: Logger | undefined;
  private combined: AbortSignal | undefined;
  private pending: Progress | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly job: ActiveJob,
    private readonly task: Task,
    private readonly context: HandlerContext,
    private readonly limits: AbortSignal | undefined,
  ) {}

  get jobId(): string {
    return this.job.record.id;
  }
  get queue(): string {
    return this.job.record.queue;
  }
  get attempt(): number {
    return this.job.record.attempt;
  }
  get maxAttempts(): number {
    return this.job.record.maxAttempts;
  }
  get cache(): Cache {
    return this.context.cache;
  }
  get rateLimiter(): RateLimiter {
    return this.context.rateLimiter;
  }
  get conveyor(): Conveyor {
    if (this.context.conveyor === undefined) {
      throw new ConfigError(
        `task "${this.task.name}" read ctx.conveyor, but its handler was made without a platform. Run it through createConveyor(…).worker(), or pass conveyor to createJobHandler.`,
      );
    }
    return this.context.conveyor;
  }
  get signal(): AbortSignal {
    this.combined ??= this.limits ? AbortSignal.any([this.job.signal, this.limits]) : this.job.signal;
    return this.combined;
  }
  get log(): Logger {
    this.logger ??= childLogger(this.context.log, { jobId: this.job.record.id, task: this.task.name });
    return this.logger;
  }

  resource<T>(resource: Resource<T>): Promise<T> {
    return this.context.resources.get(resource);
  }

  progress(progress: Progress | number, total?: number, message?: string): Promise<void> {
    this.pending = toProgress(progress, total, message);
    this.writing ??= this.flush();
    return this.writing;
  }

  private async flush(): Promise<void> {
    while (this.pending) {
      const next = this.pending;
      this.pending = undefined;
      try {
        await this.job.progress(next);
      } catch (error) {
        this.context.log.warn("progress could not be stored", {
          jobId: this.job.record.id,
          error: String(error),
        });
      }
    }
    this.writing = undefined;
  }
}

const MIB = 1024 * 1024;

function checkLimit(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0 || (field === "maxJobsPerProcess" && !Number.isInteger(value))) {
    throw new ConfigError(
      `worker ${field} must be a ${field === "maxJobsPerProcess" ? "whole number" : "number"} above 0, got ${value}. Leave it out for no limit.`,
    );
  }
  return value;
}

/** Creates and starts a worker over `queue`. */
export function startWorker(
  queue: QueueAdapter,
  handler: JobHandler,
  options: Required<Pick<WorkerOptions, "queues" | "concurrency">> & WorkerOptions,
  hooks: { log: Logger; onClosed(worker: Worker): Promise<void> },
): Worker {
  const concurrency = resolveConcurrency(options.concurrency);
  const maxJobs = checkLimit(options.maxJobsPerProcess, "maxJobsPerProcess");
  const maxRssMb = checkLimit(options.maxMemoryPerProcessMb, "maxMemoryPerProcessMb");
  if (options.queues.length === 0) {
    throw new ConfigError(
      "the worker has no queue to consume. Register tasks or pass queues: [...] to worker().",
    );
  }
  const id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let processed = 0;
  let closing: Promise<void> | undefined;
  let exit: WorkerExit = { reason: "close" };
  const recycle = (limit: RecycleInfo["limit"], rss: number) => {
    if (closing) return;
    exit = { reason: "recycle", recycle: { limit, jobs: processed, rssMb: Math.round(rss / MIB) } };
    hooks.log.info(
      limit === "jobs"
        ? "worker reached maxJobsPerProcess; draining to be recycled"
        : "worker passed maxMemoryPerProcessMb; draining to be recycled",
      { worker: id, jobs: processed, rssMb: exit.recycle!.rssMb },
    );
    void worker.close({ drain: true });
  };
  const checkMemory = (outcome: Outcome) => {
    const rss = process.memoryUsage.rss();
    if (rss > maxRssMb! * MIB) recycle("memory", rss);
    return outcome;
  };
  // The Nth start closes at once, before the adapter can claim more; memory is read after each job.
  const counted: JobHandler = (job) => {
    processed += 1;
    if (maxJobs !== undefined && processed >= maxJobs) recycle("jobs", process.memoryUsage.rss());
    const outcome = handler(job);
    return maxRssMb === undefined ? outcome : outcome.then(checkMemory);
  };
  const consumers = new ConsumerGroup(queue, counted, concurrency, {
    queues: options.queues,
    workerId: id,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    log: hooks.log,
  });
  let resolveClosed!: (exit: WorkerExit) => void;
  const closed = new Promise<WorkerExit>((resolve) => {
    resolveClosed = resolve;
  });
  // A worker is a long-running service: keep the process alive while it runs, even on a backend
  // that holds no socket open (memory://), until close() ends it.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    const drain = signals === 1;
    if (!closing) exit = { reason: "signal" };
    hooks.log.info(
      drain
        ? "signal received; draining running jobs (send again to stop at once)"
        : "second signal; stopping at once",
      {
        signal,
        worker: id,
      },
    );
    void worker.close({ drain });
  };
  const worker: Worker = {
    id,
    queues: options.queues,
    get concurrency() {
      return consumers.concurrency;
    },
    autoscale: concurrency.autoscale ? { min: concurrency.min, max: concurrency.max } : undefined,
    get active() {
      return consumers.active;
    },
    get processed() {
      return processed;
    },
    closed,
    close(closeOptions = {}) {
      const drain = closeOptions.drain ?? true;
      if (closing && drain) return closing;
      const run = (async () => {
        await consumers.close({ drain });
        clearInterval(keepAlive);
        if (options.handleSignals) {
          process.off("SIGTERM", onSignal);
          process.off("SIGINT", onSignal);
        }
        await hooks.onClosed(worker);
        resolveClosed(exit);
      })();
      closing = closing ? Promise.all([closing, run]).then(() => undefined) : run;
      return closing;
    },
  };
  if (options.handleSignals) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  hooks.log.debug("worker started", {
    worker: id,
    queues: options.queues.join(","),
    concurrency: concurrency.autoscale ? `${concurrency.min}-${concurrency.max}` : concurrency.max,
    ...(maxJobs !== undefined ? { maxJobsPerProcess: maxJobs } : {}),
    ...(maxRssMb !== undefined ? { maxMemoryPerProcessMb: maxRssMb } : {}),
  });
  return worker;
}
