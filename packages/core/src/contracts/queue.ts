import type { AddResult, JobEvent, JobRecord, JobState, NewJob, Progress, SerializedError } from "./job.js";
import type { ScheduleStore } from "./schedule.js";

/**
 * What a queue adapter can do. Capabilities are data: the core checks them before it calls
 * an optional feature and throws `UnsupportedFeatureError` naming the adapter and the feature
 * when one is missing — never a silent no-op.
 */
export interface QueueCapabilities {
  /** Jobs can wait until a time (`runAt` in the future) before they become ready. */
  readonly delayed: boolean;
  /** Ready jobs of a queue are claimed highest `priority` first. */
  readonly priority: boolean;
  /** A queue can be paused and resumed; a paused queue keeps its jobs but hands none out. */
  readonly pause: boolean;
  /** An active job can be cancelled from any process: its handler's signal aborts. */
  readonly cancelActive: boolean;
  /** Lifecycle events can be subscribed to from any process sharing the backend. */
  readonly events: boolean;
  /** Progress reported by a handler is stored and visible from any process. */
  readonly progress: boolean;
  /** Results and errors are stored with the job and readable from any process. */
  readonly results: boolean;
  /** Jobs survive a restart of every process (the backend is persistent or external). */
  readonly persistent: boolean;
  /** The queue is shared between processes (not only within one). */
  readonly shared: boolean;
}

/** Everything a worker is told about the job it runs. */
export interface ActiveJob {
  /** The job as claimed: `state` is `active` and `attempt` counts this attempt. */
  readonly record: JobRecord;
  /**
   * Aborted when the job must stop: cancelled from any process, its lease lost, or the
   * consumer closed without draining. The reason is a Conveyor error saying which
   * (`JobCancelledError`, `WorkerClosingError`). Adapters may create it lazily on first access.
   */
  readonly signal: AbortSignal;
  /**
   * Sets the one listener called (once) when the job is aborted, with the same reason as
   * `signal`; called at once when the job is already aborted. Cheaper than `signal` on the hot
   * path: the core uses it so that no `AbortSignal` is created for jobs that never abort.
   */
  onAbort(listener: (reason: unknown) => void): void;
  /** Stores progress and emits a `progress` event. */
  progress(progress: Progress): Promise<void>;
}

/**
 * How an attempt ended, decided by the core and persisted by the adapter in one step.
 * - `completed`: done with a result.
 * - `failed`: done with an error; no attempt is left (a dead letter).
 * - `retry`: the attempt failed and the job runs again at `runAt`.
 * - `postpone`: the job did not really run (e.g. rate-limited); it runs again at `runAt`
 *   and this attempt is not counted.
 * - `cancelled`: the job was cancelled while it ran.
 */
export type Outcome =
  | { type: "completed"; result: unknown; expiresAt?: number }
  | { type: "failed"; error: SerializedError; expiresAt?: number }
  | { type: "retry"; error: SerializedError; runAt: number }
  | { type: "postpone"; runAt: number; reason: string }
  | { type: "cancelled"; error?: SerializedError; expiresAt?: number };

/** The core's per-job function an adapter calls for each claimed job. It never rejects. */
export type JobHandler = (job: ActiveJob) => Promise<Outcome>;

/** How to consume. */
export interface ConsumeOptions {
  /** Queues to take jobs from. */
  queues: readonly string[];
  /** Maximum number of handlers running at once; never exceeded. */
  concurrency: number;
  /** Stable id of the consuming worker (stored on active jobs). */
  workerId: string;
  /**
   * For adapters with leases: how long a claim stays valid without renewal before another
   * worker may recover the job.
   * @defaultValue 30_000
   */
  leaseMs?: number;
}

/** A running consumption loop, returned by {@link QueueAdapter.consume}. */
export interface Consumer {
  /** Number of handlers running now. */
  readonly active: number;
  /**
   * Stops claiming. With `drain: true` (the default) waits for running handlers and persists
   * their outcomes. With `drain: false` aborts their signals and releases their jobs to
   * `waiting` at once (the interrupted attempt is not counted), so another worker can take
   * them; a job whose cancel was requested ends `cancelled` instead. A `drain: false` call
   * cuts short an earlier drain that is still waiting.
   */
  close(options?: { drain?: boolean }): Promise<void>;
}

/** A filter for {@link QueueAdapter.listJobs}. */
export interface JobQuery {
  queue?: string;
  /** Only jobs in these states. @defaultValue every state */
  states?: readonly JobState[];
  /** Skip this many (newest first). @defaultValue 0 */
  offset?: number;
  /** At most this many. @defaultValue 100 */
  limit?: number;
}

/** Number of jobs per state in one queue. */
export type JobCounts = Record<JobState, number>;

/** A queue known to the backend. */
export interface QueueInfo {
  name: string;
  paused: boolean;
}

/** The answer to a cancel request. */
export type CancelResult =
  /** The job was waiting, delayed or retrying and is now `cancelled`. */
  | "cancelled"
  /** The job is active; its handler's signal is being aborted and it will end `cancelled`. */
  | "requested"
  /** The job had already finished; nothing changed. */
  | "finished"
  /** No such job. */
  | "not-found";

/** Options for {@link QueueAdapter.purge}. */
export interface PurgeOptions {
  /** Only jobs in these states. @defaultValue every state but `active` */
  states?: readonly JobState[];
  /** Only jobs created (or finished, for terminal states) at least this long ago. */
  olderThanMs?: number;
}

/** Called for each lifecycle event; must not throw. */
export type JobEventListener = (event: JobEvent) => void;

/**
 * The Queue contract: stores jobs, hands them to consumers and records outcomes.
 * Adapters persist and claim; the job state machine and every policy (retries, timeouts,
 * validation) live in the core.
 *
 * Guarantees every adapter keeps:
 * - `add` is atomic per job and dedupes by `id`.
 * - A job is claimed by at most one consumer at a time (at-least-once delivery: a job whose
 *   consumer dies is handed out again).
 * - Ready jobs of one queue are claimed by `priority` (higher first), then oldest `runAt` first.
 * - Events of one job are delivered in the order they happened.
 */
export interface QueueAdapter {
  /** Adapter name used in messages, e.g. `"memory"`. */
  readonly name: string;
  /** What this adapter supports. */
  readonly capabilities: QueueCapabilities;
  /**
   * Where the backend keeps schedules, shared by every process that opens it. Absent when the
   * backend cannot hold them: the scheduler then keeps them in its own memory.
   */
  readonly schedules?: ScheduleStore;
  /** Adds jobs in one call; an existing id returns the existing job with `created: false`. */
  add(jobs: readonly NewJob[]): Promise<AddResult[]>;
  /** Starts handing jobs of `options.queues` to `handler`, at most `concurrency` at once. */
  consume(options: ConsumeOptions, handler: JobHandler): Consumer;
  /** The job, or `undefined` when it does not exist (or expired). */
  getJob(id: string): Promise<JobRecord | undefined>;
  /** Jobs matching the query, newest first. */
  listJobs(query?: JobQuery): Promise<JobRecord[]>;
  /** Number of jobs per state in `queue`. */
  counts(queue: string): Promise<JobCounts>;
  /** Every queue that has or had jobs, with its paused flag. */
  queues(): Promise<QueueInfo[]>;
  /** Moves a `failed` or `cancelled` job back to `waiting` with a fresh attempt budget. */
  retry(id: string): Promise<JobRecord | undefined>;
  /**
   * Cancels a job; see {@link CancelResult}. `expiresAt` (epoch ms) is when the cancelled job
   * may be deleted; omitted keeps it until removed.
   */
  cancel(id: string, options?: { expiresAt?: number }): Promise<CancelResult>;
  /** Deletes a job that is not active. Returns whether it was deleted (false when missing or active). */
  remove(id: string): Promise<boolean>;
  /** Deletes jobs of `queue` by state and age; returns how many. Never touches active jobs. */
  purge(queue: string, options?: PurgeOptions): Promise<number>;
  /** Stops handing out jobs of `queue` (capability `pause`). */
  pause(queue: string): Promise<void>;
  /** Hands out jobs of `queue` again (capability `pause`). */
  resume(queue: string): Promise<void>;
  /** Subscribes to lifecycle events (capability `events`); resolves once listening. */
  subscribe(
    listener: JobEventListener,
    filter?: { queue?: string; jobId?: string },
  ): Promise<() => Promise<void>>;
  /** Releases every connection and timer; consumers still open are closed without draining. */
  close(): Promise<void>;
}

/** A typed factory that creates a queue adapter from its options. */
export type QueueFactory<Options> = (options: Options) => QueueAdapter;
