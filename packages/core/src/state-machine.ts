import type {
  BackoffOptions,
  JobEvent,
  JobRecord,
  JobState,
  NewJob,
  SerializedError,
} from "./contracts/job.js";
import type { Outcome } from "./contracts/queue.js";
import { IllegalTransitionError } from "./errors.js";

/**
 * The job state machine as data: for each state, the states a job may move to.
 * Adapters only persist and claim; every change of state goes through these rules.
 */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  waiting: ["active", "cancelled"],
  delayed: ["waiting", "active", "cancelled"],
  retrying: ["waiting", "active", "cancelled"],
  // active → waiting: released by a closing worker or recovered after a lost lease;
  // active → delayed: postponed (rate limit) without using the attempt.
  active: ["completed", "failed", "retrying", "delayed", "waiting", "cancelled"],
  completed: ["waiting"],
  failed: ["waiting"],
  cancelled: ["waiting"],
};

/** Whether a job may move from `from` to `to`. */
export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws {@link IllegalTransitionError} unless a job may move from `from` to `to`. */
export function assertTransition(from: JobState, to: JobState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

/** Whether the state is final until a manual retry. */
export function isTerminal(state: JobState): boolean {
  return state === "completed" || state === "failed" || state === "cancelled";
}

/** Whether a job in this state waits to be claimed (now or at `runAt`). */
export function isPending(state: JobState): boolean {
  return state === "waiting" || state === "delayed" || state === "retrying";
}

/** Whether the job can be claimed at `now`. */
export function isReady(job: Pick<JobRecord, "state" | "runAt">, now: number): boolean {
  return isPending(job.state) && job.runAt <= now;
}

/**
 * Order of ready jobs within a queue: higher priority first, then earlier `runAt`, then
 * earlier creation. Returns a negative number when `a` runs before `b`.
 */
export function compareReady(
  a: Pick<JobRecord, "priority" | "runAt" | "createdAt">,
  b: Pick<JobRecord, "priority" | "runAt" | "createdAt">,
): number {
  return b.priority - a.priority || a.runAt - b.runAt || a.createdAt - b.createdAt;
}

/**
 * Delay before the attempt after `attempt` (1-based) failed.
 * `fixed` waits `delayMs`; `exponential` waits `delayMs * 2^(attempt-1)`; both capped by
 * `maxDelayMs`, then reduced by up to `jitter` of the delay at random.
 */
export function backoffDelayMs(
  backoff: BackoffOptions | undefined,
  attempt: number,
  random = Math.random,
): number {
  if (!backoff) return 0;
  const base =
    backoff.type === "exponential" ? backoff.delayMs * 2 ** Math.max(0, attempt - 1) : backoff.delayMs;
  const capped = Math.min(base, backoff.maxDelayMs ?? Number.POSITIVE_INFINITY);
  const jitter = Math.min(Math.max(backoff.jitter ?? 0, 0), 1);
  return Math.max(0, Math.round(capped * (1 - jitter * random())));
}

/**
 * Builds a record with every field present (undefined when unset) from one object literal, so
 * all records share one hidden class. Spreading a record and adding a field it lacks
 * (`{ ...job, workerId }`) takes a slow path in V8 that costs microseconds per job on the hot
 * path; overwriting present fields is fast. JSON drops the undefined fields again.
 */
function shape(job: JobRecord, p: Partial<JobRecord>): JobRecord {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    input: job.input,
    state: p.state ?? job.state,
    priority: job.priority,
    attempt: p.attempt ?? job.attempt,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    createdAt: job.createdAt,
    runAt: p.runAt ?? job.runAt,
    startedAt: p.startedAt ?? job.startedAt,
    finishedAt: "finishedAt" in p ? p.finishedAt : job.finishedAt,
    progress: "progress" in p ? p.progress : job.progress,
    result: "result" in p ? p.result : job.result,
    error: "error" in p ? p.error : job.error,
    expiresAt: "expiresAt" in p ? p.expiresAt : job.expiresAt,
    workerId: "workerId" in p ? p.workerId : job.workerId,
    meta: job.meta,
  };
}

/** The record of a newly added job (every optional field present, undefined when unset). */
export function createRecord(job: NewJob, now: number): JobRecord {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    input: job.input,
    state: job.runAt > now ? "delayed" : "waiting",
    priority: job.priority,
    attempt: 0,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    createdAt: job.createdAt,
    runAt: job.runAt,
    startedAt: undefined,
    finishedAt: undefined,
    progress: undefined,
    result: undefined,
    error: undefined,
    expiresAt: undefined,
    workerId: undefined,
    meta: job.meta,
  };
}

/** The record of a job claimed by `workerId`: active, with its attempt counted. */
export function claimRecord(job: JobRecord, workerId: string, now: number): JobRecord {
  assertTransition(job.state, "active");
  return shape(job, { state: "active", attempt: job.attempt + 1, startedAt: now, workerId });
}

/** The record of an active job handed back without finishing (closing worker, lost lease). */
export function releaseRecord(job: JobRecord, countAttempt: boolean): JobRecord {
  assertTransition(job.state, "waiting");
  return shape(job, {
    state: "waiting",
    attempt: countAttempt ? job.attempt : Math.max(0, job.attempt - 1),
    workerId: undefined,
  });
}

/** The record after an attempt ended with `outcome`. */
export function applyOutcome(job: JobRecord, outcome: Outcome, now: number): JobRecord {
  switch (outcome.type) {
    case "completed":
      assertTransition(job.state, "completed");
      return shape(job, {
        state: "completed",
        result: outcome.result,
        finishedAt: now,
        expiresAt: outcome.expiresAt,
        workerId: undefined,
      });
    case "failed":
      assertTransition(job.state, "failed");
      return shape(job, {
        state: "failed",
        error: outcome.error,
        finishedAt: now,
        expiresAt: outcome.expiresAt,
        workerId: undefined,
      });
    case "retry":
      assertTransition(job.state, "retrying");
      return shape(job, {
        state: "retrying",
        error: outcome.error,
        runAt: outcome.runAt,
        workerId: undefined,
      });
    case "postpone":
      assertTransition(job.state, "delayed");
      return shape(job, {
        state: "delayed",
        runAt: outcome.runAt,
        attempt: Math.max(0, job.attempt - 1),
        workerId: undefined,
      });
    case "cancelled":
      assertTransition(job.state, "cancelled");
      return shape(job, {
        state: "cancelled",
        finishedAt: now,
        error: outcome.error ?? job.error,
        expiresAt: outcome.expiresAt,
        workerId: undefined,
      });
  }
}

/** The record of a pending job cancelled before it ran. */
export function cancelRecord(job: JobRecord, now: number, expiresAt?: number): JobRecord {
  assertTransition(job.state, "cancelled");
  return shape(job, { state: "cancelled", finishedAt: now, expiresAt, workerId: undefined });
}

/** The record of a failed or cancelled job retried by hand: waiting, with a fresh attempt budget. */
export function retryRecord(job: JobRecord, now: number): JobRecord {
  assertTransition(job.state, "waiting");
  return shape(job, {
    state: "waiting",
    attempt: 0,
    runAt: now,
    error: undefined,
    result: undefined,
    finishedAt: undefined,
    expiresAt: undefined,
    progress: undefined,
    workerId: undefined,
  });
}

/** The record of a delayed or retrying job whose time has come. */
export function promoteRecord(job: JobRecord): JobRecord {
  assertTransition(job.state, "waiting");
  return shape(job, { state: "waiting" });
}

/** A copy of `record` without the fields that are undefined (for printing and JSON-free stores). */
export function compactRecord(record: JobRecord): JobRecord {
  const out: Record<string, unknown> = {};
  for (const key in record) {
    const value = (record as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as unknown as JobRecord;
}

/**
 * What to do after attempt `job.attempt` threw `error`: retry with backoff while attempts
 * remain and the error allows it, otherwise fail for good.
 */
export function decideAfterError(
  job: Pick<JobRecord, "attempt" | "maxAttempts" | "backoff">,
  error: SerializedError,
  now: number,
  options: { failedExpiresAt?: number; random?: () => number } = {},
): Outcome {
  if (error.retryable !== false && job.attempt < job.maxAttempts) {
    return { type: "retry", error, runAt: now + backoffDelayMs(job.backoff, job.attempt, options.random) };
  }
  return {
    type: "failed",
    error,
    ...(options.failedExpiresAt !== undefined ? { expiresAt: options.failedExpiresAt } : {}),
  };
}

/** The lifecycle event an adapter emits after persisting `outcome` for `job` (the record after it). */
export function outcomeEvent(job: JobRecord, outcome: Outcome, now: number): JobEvent {
  // One literal per event (no spreads): adapters build one of these per finished job.
  switch (outcome.type) {
    case "completed":
      return {
        type: "completed",
        jobId: job.id,
        queue: job.queue,
        at: now,
        attempt: job.attempt,
        result: outcome.result,
      };
    case "failed":
      return {
        type: "failed",
        jobId: job.id,
        queue: job.queue,
        at: now,
        attempt: job.attempt,
        error: outcome.error,
      };
    case "retry":
      return {
        type: "retrying",
        jobId: job.id,
        queue: job.queue,
        at: now,
        attempt: job.attempt,
        error: outcome.error,
        runAt: outcome.runAt,
      };
    case "postpone":
      return {
        type: "delayed",
        jobId: job.id,
        queue: job.queue,
        at: now,
        attempt: job.attempt,
        runAt: outcome.runAt,
      };
    case "cancelled":
      return {
        type: "cancelled",
        jobId: job.id,
        queue: job.queue,
        at: now,
        attempt: job.attempt,
        error: outcome.error,
      };
  }
}
