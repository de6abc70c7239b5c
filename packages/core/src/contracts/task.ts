import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Conveyor } from "../conveyor.js";
import type { Cache } from "./cache.js";
import type { BackoffOptions, Progress } from "./job.js";
import type { RateLimit, RateLimiter } from "./rate-limiter.js";

/** Logger handed to tasks and used by the runtime. Matches `console` and pino-style loggers. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Normal operation (worker started, signal received). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something degraded but handled (a cache tier down, a failed resource load). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * A resource shared by every job of a worker process: loaded lazily on first use, once,
 * and disposed when the worker closes (a model, an engine process, a connection pool).
 */
export interface Resource<T> {
  /** Unique name, `"<plugin>.<resource>"`. */
  readonly name: string;
  /** Creates the resource. Called at most once per worker process (again only after a failed load). */
  load(context: ResourceContext): Promise<T> | T;
  /** Releases it; called once when the worker closes. */
  dispose?(value: T): Promise<void> | void;
}

/** What a resource's `load` is given. */
export interface ResourceContext {
  log: Logger;
  /** Aborted when the worker closes before loading finished. */
  signal: AbortSignal;
}

/** What a task's `run` is given next to its input. */
export interface TaskContext {
  /** The job's id. */
  readonly jobId: string;
  /** The queue the job came from. */
  readonly queue: string;
  /** The attempt being run, 1-based; greater than 1 on retries and after a crash. */
  readonly attempt: number;
  /** Maximum number of attempts. */
  readonly maxAttempts: number;
  /**
   * Aborted when the job should stop: soft timeout reached, cancelled, or the worker is
   * shutting down without draining. `signal.reason` is a Conveyor error saying which.
   */
  readonly signal: AbortSignal;
  /** Reports progress, visible from every process; calls are coalesced, never awaited in a hot loop. */
  progress(progress: Progress | number, total?: number, message?: string): Promise<void>;
  /** The shared instance of a resource, loaded once per worker process. */
  resource<T>(resource: Resource<T>): Promise<T>;
  /** The platform cache. */
  readonly cache: Cache;
  /**
   * The platform rate limiter, shared by every process on the same backend; a task that calls a
   * metered service consumes points here to stay under the provider's quota.
   */
  readonly rateLimiter: RateLimiter;
  /** A logger whose lines carry the job id and task name. */
  readonly log: Logger;
  /**
   * The platform this worker runs on, for child jobs: a handler that fans out (chunks of a long
   * file, one job per row) enqueues them with `ctx.conveyor.enqueueMany(…)` and awaits their
   * handles; they go to the same backends as the job itself. Child jobs are plain jobs: give them
   * ids derived from `ctx.jobId` and `ctx.attempt` so a retried parent does not enqueue them twice,
   * and do not wait for a child in a queue no free worker slot can take. Reading it inside a
   * sandboxed task throws a `ConfigError` (the sandbox has no platform).
   */
  readonly conveyor: Conveyor;
}

/** Where a task's results are cached, and for how long. */
export interface TaskCacheOptions<I> {
  /** The cache key for an input; jobs with the same key share one result. */
  key(input: I): string;
  /** Time to live in milliseconds. @defaultValue the cache's default */
  ttlMs?: number;
}

/** Where and how a sandboxed task runs; see {@link TaskOptions.sandbox}. */
export interface TaskSandbox {
  /** `"thread"`: a worker thread (cheaper); `"process"`: a child process (also survives native crashes and `process.exit`). */
  type: "thread" | "process";
  /**
   * The module that defines the task, as an absolute path or `file:` URL: usually
   * `import.meta.url` (ESM) or `__filename` (CJS). TypeScript files are loaded through jiti. The
   * sandbox looks the task up by name among the module's exports (tasks, plugins, or a config
   * object's `tasks`/`plugins`); importing it must not start anything.
   */
  module: string | URL;
}

/** A task's rate limit: jobs over the limit wait (postponed, no attempt used) until points free up. */
export interface TaskRateLimit<I> extends RateLimit {
  /** Groups jobs that share the limit. @defaultValue the task name */
  key?(input: I): string;
}

/** Everything `defineTask` accepts. */
export interface TaskOptions<I, O> {
  /** Unique task name, `"<plugin>.<task>"` or any dotted name. */
  name: string;
  /** One line shown by `inspect registered` and the API. */
  description?: string;
  /** Standard Schema of the input (zod, valibot, arktype…). Validated before enqueue and by the worker. */
  input?: StandardSchemaV1<unknown, I>;
  /** Standard Schema of the output, validated after `run`. */
  output?: StandardSchemaV1<unknown, O>;
  /** Queue the task's jobs go to. @defaultValue the platform's default queue (`"default"`) */
  queue?: string;
  /** Extra attempts after a failure. @defaultValue 0 */
  retries?: number;
  /** Delay between attempts. @defaultValue `{ type: "fixed", delayMs: 0 }` */
  backoff?: BackoffOptions;
  /** Hard limit of one attempt in ms: the attempt fails with `TimeoutError`. */
  timeoutMs?: number;
  /** Soft limit in ms: `ctx.signal` aborts with `SoftTimeoutError` so the task can stop cleanly. */
  softTimeoutMs?: number;
  /** Default priority of the task's jobs; higher runs first. @defaultValue 0 */
  priority?: number;
  /** Limit how fast the task's jobs start. */
  rateLimit?: TaskRateLimit<I>;
  /** Cache results by input. */
  cache?: TaskCacheOptions<I>;
  /**
   * Run the task in a sandbox (BullMQ's sandboxed processors): a worker thread or a child process
   * that imports `module` and runs the task found there by name. The hard limit (`timeoutMs`)
   * and a cancel terminate the sandbox, so a stuck handler cannot hold the worker; a crash of
   * the sandbox fails only its job. Input and result cross by structured clone.
   * @defaultValue runs in the worker's own thread
   */
  sandbox?: TaskSandbox;
  /** The work. */
  run(input: I, context: TaskContext): Promise<O> | O;
}

/** A defined task; pass it to `enqueue` or register it with the platform. */
export interface Task<I = any, O = any> extends Readonly<TaskOptions<I, O>> {
  /** Brand that tells tasks from other objects. */
  readonly kind: "task";
}

/** Input type of a task. */
export type TaskInput<T> = T extends Task<infer I, any> ? I : never;
/** Output type of a task. */
export type TaskOutput<T> = T extends Task<any, infer O> ? Awaited<O> : never;

/** Everything `definePlugin` accepts. */
export interface PluginOptions {
  /** Plugin name; its tasks are usually named `"<plugin>.<task>"`. */
  name: string;
  /** Tasks the plugin registers. */
  tasks: readonly Task[];
  /** Resources its tasks share; only a worker ever loads them. */
  resources?: readonly Resource<unknown>[];
}

/** A defined plugin. */
export interface Plugin extends Readonly<PluginOptions> {
  /** Brand that tells plugins from other objects. */
  readonly kind: "plugin";
}
