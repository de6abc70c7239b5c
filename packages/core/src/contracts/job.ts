/**
 * The lifecycle state of one job. Every adapter reports these same states.
 *
 * - `waiting`: ready to be claimed by a worker.
 * - `delayed`: will become `waiting` at {@link JobRecord.runAt}.
 * - `active`: claimed by a worker and running.
 * - `retrying`: failed an attempt and waits (with backoff) for the next one.
 * - `completed`: finished with a result.
 * - `failed`: finished with an error after its last attempt (a dead letter; retryable by hand).
 * - `cancelled`: cancelled before it completed.
 *
 * A paused queue is a property of the queue, not of its jobs: its jobs stay `waiting`.
 */
export type JobState = "waiting" | "delayed" | "active" | "retrying" | "completed" | "failed" | "cancelled";

/** Every {@link JobState}, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = [
  "waiting",
  "delayed",
  "active",
  "retrying",
  "completed",
  "failed",
  "cancelled",
];

/** States a job never leaves by itself (only a manual retry moves a job out of them). */
export const TERMINAL_STATES: readonly JobState[] = ["completed", "failed", "cancelled"];

/** Progress of a running job, visible to every process that can see the job. */
export interface Progress {
  /** Units done so far. */
  current: number;
  /** Units in all, when known. */
  total?: number;
  /** A short human-readable status line. */
  message?: string;
}

/** An error as it is stored with a job: plain data, safe to serialise. */
export interface SerializedError {
  /** The error's `name` (for Conveyor errors, e.g. `"TimeoutError"`). */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack trace, when one was captured. */
  stack?: string;
  /** A stable machine-readable code, e.g. `"TIMEOUT"`. */
  code?: string;
  /** The attempt (1-based) that produced this error. */
  attempt: number;
  /** Whether the error allowed another attempt. */
  retryable?: boolean;
}

/** Backoff between attempts of a failing job. */
export interface BackoffOptions {
  /** `fixed` waits `delayMs` every time; `exponential` waits `delayMs * 2^(attempt-1)`. */
  type: "fixed" | "exponential";
  /** Base delay in milliseconds. */
  delayMs: number;
  /**
   * Upper bound for one delay in milliseconds.
   * @defaultValue no bound
   */
  maxDelayMs?: number;
  /**
   * Random fraction (0..1) taken off each delay to spread retries of many jobs apart.
   * `0.5` waits between 50 % and 100 % of the computed delay.
   * @defaultValue 0
   */
  jitter?: number;
}

/**
 * One job as an adapter stores it. Adapters persist and return these fields unchanged;
 * the core owns their meaning.
 */
export interface JobRecord {
  /** Unique id within the backend (caller-chosen ids dedupe). */
  id: string;
  /** The queue the job lives on. */
  queue: string;
  /** The task name, `"<plugin>.<task>"`. */
  task: string;
  /** The task input as given at enqueue (JSON-serialisable). */
  input: unknown;
  /** Current lifecycle state. */
  state: JobState;
  /** Higher runs first among ready jobs of the same queue. */
  priority: number;
  /** Attempts started so far (0 before the first run). */
  attempt: number;
  /** Maximum number of attempts (retries + 1). */
  maxAttempts: number;
  /** Backoff between attempts, when the task retries. */
  backoff?: BackoffOptions;
  /** Hard time limit of one attempt in milliseconds. */
  timeoutMs?: number;
  /** Epoch ms when the job was created. */
  createdAt: number;
  /** Epoch ms before which the job must not run (delayed and retrying jobs). */
  runAt: number;
  /** Epoch ms when the current or last attempt started. */
  startedAt?: number;
  /** Epoch ms when the job reached a terminal state. */
  finishedAt?: number;
  /** Latest reported progress. */
  progress?: Progress;
  /** The handler's result, once completed. */
  result?: unknown;
  /** The last error, once an attempt failed. */
  error?: SerializedError;
  /** Epoch ms after which the backend may delete the finished job. */
  expiresAt?: number;
  /** Id of the worker holding the job while it is active. */
  workerId?: string;
  /** Free-form metadata carried with the job (trace context, parent id, …). */
  meta?: Record<string, string>;
}

/** What the core hands an adapter to create one job. */
export interface NewJob {
  /** Job id; when a job with this id exists, the adapter returns it instead of adding. */
  id: string;
  queue: string;
  task: string;
  input: unknown;
  /** Higher runs first. @defaultValue 0 */
  priority: number;
  /** Epoch ms before which the job must not run; `<= now` means ready at once. */
  runAt: number;
  maxAttempts: number;
  backoff?: BackoffOptions;
  timeoutMs?: number;
  createdAt: number;
  meta?: Record<string, string>;
}

/** The answer to adding one job. */
export interface AddResult {
  /** The stored job (the existing one when `created` is false). */
  job: JobRecord;
  /** False when a job with the same id already existed (dedupe). */
  created: boolean;
}

/**
 * Lifecycle events, the same on every adapter that has the `events` capability.
 * `waiting` is emitted when a job becomes ready again without a new `added`: a delayed or
 * retrying job promoted, a job retried by hand, or a job released by a closing worker.
 */
export type JobEventType =
  | "added"
  | "waiting"
  | "active"
  | "progress"
  | "completed"
  | "failed"
  | "retrying"
  | "delayed"
  | "cancelled"
  | "removed"
  | "stalled";

/** One lifecycle event of one job. */
export interface JobEvent {
  type: JobEventType;
  jobId: string;
  queue: string;
  /** Epoch ms when the event happened. */
  at: number;
  /** The attempt the event belongs to. */
  attempt?: number;
  progress?: Progress;
  result?: unknown;
  error?: SerializedError;
  /** For `retrying`/`delayed`: when the job becomes ready again. */
  runAt?: number;
}
