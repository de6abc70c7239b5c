import { randomUUID } from "node:crypto";
import { type ConveyorConfig, resolveBackends } from "./config.js";
import type { Cache } from "./contracts/cache.js";
import type { BackoffOptions, JobRecord, NewJob } from "./contracts/job.js";
import type {
  CancelResult,
  JobCounts,
  JobQuery,
  PurgeOptions,
  QueueAdapter,
  QueueInfo,
} from "./contracts/queue.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { Logger, Plugin, Task, TaskInput, TaskOutput } from "./contracts/task.js";
import { createCacheWorkerControl, watchWorkerControl } from "./control.js";
import {
  ClosedError,
  ConfigError,
  JobNotFoundError,
  JobStateError,
  UnknownTaskError,
  UnsupportedFeatureError,
  ValidationError,
  type ValidationIssue,
} from "./errors.js";
import { createEnqueuedJob, createJobHandle, type EnqueuedJob, type JobHandle } from "./handle.js";
import { consoleLogger, silentLogger } from "./logger.js";
import { createFromUrl } from "./registry.js";
import { ResourcePool } from "./resources.js";
import { SandboxPool } from "./sandbox.js";
import { validate } from "./schema.js";
import { createTieredCache, splitCacheUrls, type TieredCache } from "./tiered-cache.js";
import { loadTracingApi, traceEnqueue } from "./tracing.js";
import { maskUrl } from "./url.js";
import { createJobHandler, startWorker, type Worker, type WorkerOptions } from "./worker.js";
import { createCacheWorkerRegistry, startHeartbeat, type WorkerInfo } from "./workers.js";

/** Options of one enqueued job; each overrides the task's own setting. */
export interface EnqueueOptions {
  /** Job id; enqueueing an id that exists returns the existing job (dedupe). @defaultValue a random UUID */
  jobId?: string;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** Run no earlier than this time (epoch ms or Date). */
  runAt?: number | Date;
  /** Higher runs first. @defaultValue the task's priority, else 0 */
  priority?: number;
  /** Queue to use. @defaultValue the task's queue, else the default queue */
  queue?: string;
  /** Extra attempts after a failure. @defaultValue the task's retries, else 0 */
  retries?: number;
  /** Delay between attempts. @defaultValue the task's backoff */
  backoff?: BackoffOptions;
  /** Hard limit of one attempt in ms. @defaultValue the task's timeoutMs */
  timeoutMs?: number;
  /** Free-form string metadata stored with the job. */
  meta?: Record<string, string>;
}

/** One item of {@link Conveyor.enqueueMany}. */
export interface BulkItem<I> {
  input: I;
  options?: EnqueueOptions;
}

/** A registered task as listed by {@link Conveyor.tasks}. */
export interface RegisteredTask {
  name: string;
  queue: string;
  description?: string;
  /** The plugin that registered it, if any. */
  plugin?: string;
  task: Task;
}

/**
 * The platform an app or worker holds: enqueue jobs, run workers, inspect and control queues.
 * Create it with {@link createConveyor}.
 */
export interface Conveyor {
  /** The queue adapter in use. */
  readonly queue: QueueAdapter;
  /** The cache in use. */
  readonly cache: Cache;
  /** The rate limiter in use. */
  readonly rateLimiter: RateLimiter;
  /** The runtime's logger. */
  readonly log: Logger;
  /** Backend URLs in use, passwords masked (adapter names for instances given in code). */
  readonly backends: { queue: string; cache: string; rateLimiter: string };
  /** Registers tasks and plugins (idempotent for the same object; a different task with a taken name throws). */
  register(...items: (Task | Plugin)[]): void;
  /** Registered tasks, sorted by name. */
  tasks(): RegisteredTask[];
  /** Validates the input and enqueues one job; resolves once the backend has stored it. */
  enqueue<T extends Task>(
    task: T,
    input: TaskInput<T>,
    options?: EnqueueOptions,
  ): Promise<EnqueuedJob<TaskOutput<T>>>;
  /** Enqueues by task name (the CLI, the HTTP API, other languages); the task must be registered. */
  enqueue<O = unknown>(task: string, input: unknown, options?: EnqueueOptions): Promise<EnqueuedJob<O>>;
  /** Validates every input, then enqueues all in one backend call; nothing is enqueued when one is invalid. */
  enqueueMany<T extends Task>(
    task: T,
    items: readonly BulkItem<TaskInput<T>>[],
  ): Promise<EnqueuedJob<TaskOutput<T>>[]>;
  /** Enqueues many jobs by task name; the task must be registered. */
  enqueueMany<O = unknown>(task: string, items: readonly BulkItem<unknown>[]): Promise<EnqueuedJob<O>[]>;
  /** A handle on an existing job by id. */
  job<O = unknown>(id: string): JobHandle<O>;
  /** Starts a worker that runs the registered tasks; it reports itself by heartbeat (see {@link Conveyor.workers}). */
  worker(options?: WorkerOptions): Worker;
  /** Workers of every process sharing the cache, by their unexpired heartbeats. */
  workers(): Promise<WorkerInfo[]>;
  /** Known queues with their paused flag. */
  queues(): Promise<QueueInfo[]>;
  /** Jobs per state in a queue. */
  counts(queue: string): Promise<JobCounts>;
  /** Jobs matching a query, newest first. */
  listJobs(query?: JobQuery): Promise<JobRecord[]>;
  /** Retries a failed or cancelled job; throws `JobNotFoundError` for an unknown id. */
  retry(id: string): Promise<JobRecord>;
  /** Cancels a job. */
  cancel(id: string): Promise<CancelResult>;
  /** Deletes a job that is not active. */
  remove(id: string): Promise<boolean>;
  /** Deletes jobs of a queue by state and age; returns how many. */
  purge(queue: string, options?: PurgeOptions): Promise<number>;
  /** Pauses a queue (capability `pause`). */
  pause(queue: string): Promise<void>;
  /** Resumes a paused queue (capability `pause`). */
  resume(queue: string): Promise<void>;
  /** Closes running workers (draining), disposes resources and releases the backends it created. */
  close(): Promise<void>;
}

const DEFAULTS = {
  defaultQueue: "default",
  resultTtlMs: 86_400_000,
} satisfies Partial<ConveyorConfig>;

/** `values` without its `undefined` fields. */
function pickDefined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The view of a cache that every process sees alike: a tiered cache without its local tiers. */
function sharedCacheOf(cache: Cache): Cache {
  const shared = (cache as Partial<TieredCache>).shared;
  return typeof shared === "function" ? (shared.call(cache) ?? cache) : cache;
}

function describe(value: string | { name: string }): string {
  return typeof value === "string" ? maskUrl(value) : `${value.name} (instance)`;
}

/** Where a cache or limiter comes from when the one shared URL's adapter has none. */
function sharedFallbacks(url: string): string[] {
  const match = /^[a-z0-9.-]+\+(rediss?):\/\/([^?#]*)/i.exec(url);
  return match ? [`${match[1]}://${match[2]}`, "memory://"] : ["memory://"];
}

/**
 * Creates the platform from a config object (see {@link ConveyorConfig}); env vars
 * `CONVEYOR_*` override its URLs. With no config at all it runs on the in-memory adapter.
 *
 * @example
 * ```ts
 * import { createConveyor, defineTask } from "@conveyor/core";
 *
 * const add = defineTask({ name: "math.add", run: ({ a, b }: { a: number; b: number }) => a + b });
 * const conveyor = await createConveyor({ url: "memory://", tasks: [add], logger: false });
 * const worker = conveyor.worker({ concurrency: 4 });
 * const job = await conveyor.enqueue(add, { a: 1, b: 2 });
 * console.log(await job.result({ timeoutMs: 5_000 })); // 3
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export async function createConveyor(config: ConveyorConfig = {}): Promise<Conveyor> {
  const settings = { ...DEFAULTS, ...config };
  const log = config.logger === false ? silentLogger : (config.logger ?? consoleLogger());
  const roots = config.roots ?? [process.cwd()];
  const tracing = config.tracing !== false;
  if (tracing) await loadTracingApi();
  const backends = resolveBackends(config);

  const owned: { close(): Promise<void> }[] = [];
  const open = async <T extends { close(): Promise<void> }>(
    kind: "queue" | "cache" | "rateLimiter",
    value: string | T,
  ) => {
    if (typeof value !== "string") return value;
    if (kind === "cache") {
      const urls = splitCacheUrls(value);
      if (urls.length > 1) {
        const tiers: Cache[] = [];
        try {
          for (const url of urls) tiers.push(await createFromUrl("cache", url, roots));
        } catch (error) {
          await Promise.allSettled(tiers.map((tier) => tier.close()));
          throw error;
        }
        const tiered = createTieredCache(tiers, { ...config.tieredCache, log }) as unknown as T;
        owned.push(tiered);
        return tiered;
      }
    }
    const created = (await createShared(kind, value)) as unknown as T;
    owned.push(created);
    return created;
  };
  // One URL for everything (`CONVEYOR_URL=bullmq+redis://…`, `--url disk://…`) must not fail
  // because the queue's adapter has no cache or limiter: when the cache's or limiter's URL is the
  // queue's, they fall back, with a warning, to the plain Redis adapter on the same server, else
  // to the in-process memory adapter. A URL of their own that cannot serve them still fails.
  const sharedUrl = backends.queue;
  const createShared = async (kind: "queue" | "cache" | "rateLimiter", url: string) => {
    try {
      return await createFromUrl(kind as "queue", url, roots);
    } catch (error) {
      if (kind === "queue" || url !== sharedUrl || !(error instanceof UnsupportedFeatureError)) throw error;
      for (const fallback of sharedFallbacks(url)) {
        try {
          const created = await createFromUrl(kind as "cache", fallback, roots);
          log.warn(
            `[conveyor] ${maskUrl(url)} has no ${kind === "cache" ? "cache" : "rate limiter"}; using ${maskUrl(fallback)} for it. Set ${kind === "cache" ? "CONVEYOR_CACHE_URL" : "CONVEYOR_RATE_LIMIT_URL"} (or the config's ${kind}) to choose.`,
          );
          return created;
        } catch {
          // Not installed or not supported either: try the next one.
        }
      }
      throw error;
    }
  };
  let queue: QueueAdapter;
  let cache: Cache;
  let rateLimiter: RateLimiter;
  try {
    queue = await open("queue", backends.queue);
    cache = await open("cache", backends.cache);
    rateLimiter = await open("rateLimiter", backends.rateLimiter);
  } catch (error) {
    await Promise.allSettled(owned.map((b) => b.close()));
    throw error;
  }

  // Heartbeats are read, changed and written back by every process: a tiered cache's
  // process-local tiers would each keep their own copy of the index.
  const workerRegistry = createCacheWorkerRegistry(sharedCacheOf(cache));
  const workerControl = createCacheWorkerControl(cache);
  const tasks = new Map<string, Task>();
  const taskPlugin = new Map<string, string>();
  const resources = new ResourcePool(log);
  const workers = new Set<Worker>();
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new ClosedError("this Conveyor platform");
  };

  const registerTask = (task: Task, plugin?: string) => {
    const existing = tasks.get(task.name);
    if (existing && existing !== task) {
      throw new ConfigError(
        `task "${task.name}" is registered twice with different definitions. Give one of them another name.`,
      );
    }
    tasks.set(task.name, task);
    if (plugin) taskPlugin.set(task.name, plugin);
  };

  const register = (...items: (Task | Plugin)[]) => {
    for (const item of items) {
      if (item.kind === "plugin") for (const task of item.tasks) registerTask(task, item.name);
      else if (item.kind === "task") registerTask(item);
      else throw new ConfigError("register() takes tasks from defineTask() and plugins from definePlugin().");
    }
  };
  register(...(config.plugins ?? []), ...(config.tasks ?? []));

  const resolveTask = (task: Task | string): Task => {
    if (typeof task !== "string") {
      if (!tasks.has(task.name)) registerTask(task);
      return task;
    }
    const found = tasks.get(task);
    if (!found) throw new UnknownTaskError(task, [...tasks.keys()].sort());
    return found;
  };

  const handleOptions = { resultTtlMs: settings.resultTtlMs };
  const queueOf = (task: Task) => task.queue ?? settings.defaultQueue;

  const buildJob = (task: Task, input: unknown, options: EnqueueOptions, now: number): NewJob => {
    const runAt =
      options.runAt !== undefined
        ? typeof options.runAt === "number"
          ? options.runAt
          : options.runAt.getTime()
        : now + (options.delayMs ?? 0);
    if (!Number.isFinite(runAt))
      throw new ConfigError(`enqueue option runAt/delayMs is not a valid time for task "${task.name}".`);
    if (runAt > now && !queue.capabilities.delayed)
      throw new UnsupportedFeatureError(queue.name, "delayed jobs (delayMs/runAt)");
    const priority = options.priority ?? task.priority ?? 0;
    if (priority !== 0 && !queue.capabilities.priority)
      throw new UnsupportedFeatureError(queue.name, "job priorities");
    const retries = options.retries ?? task.retries ?? 0;
    const backoff = options.backoff ?? task.backoff;
    const timeoutMs = options.timeoutMs ?? task.timeoutMs;
    return {
      id: options.jobId ?? randomUUID(),
      queue: options.queue ?? queueOf(task),
      task: task.name,
      input,
      priority,
      runAt,
      maxAttempts: retries + 1,
      backoff,
      timeoutMs,
      createdAt: now,
      meta: options.meta,
    };
  };

  const enqueued = <O>(record: JobRecord, created: boolean): EnqueuedJob<O> =>
    createEnqueuedJob<O>(queue, record, created, handleOptions);

  const enqueueMany = async (taskRef: Task | string, items: readonly BulkItem<unknown>[]) => {
    ensureOpen();
    const task = resolveTask(taskRef);
    const issues: ValidationIssue[] = [];
    const what = `input of task "${task.name}"`;
    const inputs = !task.input
      ? items.map((item) => item.input)
      : await Promise.all(
          items.map((item, index) =>
            validate(task.input, item.input, what).catch((error: unknown) => {
              if (!(error instanceof ValidationError)) throw error;
              for (const issue of error.issues)
                issues.push({ ...issue, path: `[${index}]${issue.path ? `.${issue.path}` : ""}` });
              return undefined;
            }),
          ),
        );
    if (issues.length > 0)
      throw new ValidationError(`input of task "${task.name}" (bulk of ${items.length})`, issues);
    const now = Date.now();
    const jobs = items.map((item, index) => buildJob(task, inputs[index], item.options ?? {}, now));
    const results = await traceEnqueue(tracing, jobs, () => queue.add(jobs));
    return results.map((r) => enqueued(r.job, r.created));
  };

  const conveyor: Conveyor = {
    queue,
    cache,
    rateLimiter,
    log,
    backends: {
      queue: describe(backends.queue),
      cache: describe(backends.cache),
      rateLimiter: describe(backends.rateLimiter),
    },
    register,
    tasks: () =>
      [...tasks.values()]
        .map((task) => ({
          name: task.name,
          queue: queueOf(task),
          ...(task.description ? { description: task.description } : {}),
          ...(taskPlugin.has(task.name) ? { plugin: taskPlugin.get(task.name)! } : {}),
          task,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),

    async enqueue(taskRef: Task | string, input: unknown, options: EnqueueOptions = {}) {
      ensureOpen();
      const task = resolveTask(taskRef);
      const valid = await validate(task.input, input, `input of task "${task.name}"`);
      const jobs = [buildJob(task, valid, options, Date.now())];
      const [result] = await traceEnqueue(tracing, jobs, () => queue.add(jobs));
      return enqueued(result!.job, result!.created);
    },
    enqueueMany: enqueueMany as Conveyor["enqueueMany"],

    job: (id) => createJobHandle(queue, id, handleOptions),

    worker(options = {}) {
      ensureOpen();
      const queues = options.queues ??
        settings.worker?.queues ?? [...new Set([settings.defaultQueue, ...[...tasks.values()].map(queueOf)])];
      const concurrency = options.concurrency ?? settings.worker?.concurrency ?? 1;
      // Sandboxes are kept for reuse up to the most jobs the worker can run at once.
      const sandboxes = new SandboxPool({
        cache,
        rateLimiter,
        log,
        maxIdle: typeof concurrency === "number" ? concurrency : concurrency.max,
      });
      const handler = createJobHandler({
        tasks,
        cache,
        rateLimiter,
        resources,
        log,
        resultTtlMs: settings.resultTtlMs,
        failedTtlMs: settings.failedTtlMs,
        tracing,
        sandboxes,
        conveyor,
      });
      let stopHeartbeat: (() => Promise<void>) | undefined;
      let stopControl: (() => void) | undefined;
      const worker = startWorker(
        queue,
        handler,
        {
          ...pickDefined({
            maxJobsPerProcess: settings.worker?.maxJobsPerProcess,
            maxMemoryPerProcessMb: settings.worker?.maxMemoryPerProcessMb,
          }),
          ...options,
          queues,
          concurrency,
        },
        {
          log,
          onClosed: async (w) => {
            stopControl?.();
            await sandboxes.close();
            await stopHeartbeat?.();
            workers.delete(w);
            if (workers.size === 0) await resources.dispose();
          },
        },
      );
      workers.add(worker);
      if (settings.heartbeat !== false) {
        stopHeartbeat = startHeartbeat(workerRegistry, worker, { ...settings.heartbeat, log });
        // Remote control (`conveyor control shutdown`, `conveyor ping`) rides on the heartbeat's
        // interval: a worker that reports itself also reads its mailbox.
        stopControl = watchWorkerControl(workerControl, worker.id, {
          ...(settings.heartbeat?.intervalMs !== undefined
            ? { intervalMs: settings.heartbeat.intervalMs }
            : {}),
          log,
          onShutdown: (command) => {
            log.info("worker shutdown requested remotely; draining", {
              worker: worker.id,
              sentAt: command.sentAt,
            });
            void worker.close({ drain: true });
          },
        });
      }
      return worker;
    },
    workers: () => workerRegistry.list(),

    queues: () => queue.queues(),
    counts: (name) => queue.counts(name),
    listJobs: (query) => queue.listJobs(query),
    async retry(id) {
      const record = await queue.retry(id);
      if (record) return record;
      const current = await queue.getJob(id);
      if (!current) throw new JobNotFoundError(id);
      throw new JobStateError(id, current.state, "retried", "failed or cancelled");
    },
    cancel: (id) => queue.cancel(id, { expiresAt: Date.now() + settings.resultTtlMs }),
    remove: (id) => queue.remove(id),
    purge: (name, options) => queue.purge(name, options),
    async pause(name) {
      if (!queue.capabilities.pause) throw new UnsupportedFeatureError(queue.name, "pausing queues");
      await queue.pause(name);
    },
    async resume(name) {
      if (!queue.capabilities.pause) throw new UnsupportedFeatureError(queue.name, "pausing queues");
      await queue.resume(name);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...workers].map((w) => w.close({ drain: true })));
      await resources.dispose();
      const results = await Promise.allSettled(owned.reverse().map((b) => b.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
  return conveyor;
}
