import type { JobRecord, NewJob, Progress } from "./contracts/job.js";
import type { ConsumeOptions, JobQuery, Outcome } from "./contracts/queue.js";
import {
  ConfigError,
  ConveyorError,
  serializeError,
  ValidationError,
  type ValidationIssue,
} from "./errors.js";
import { decideAfterError } from "./state-machine.js";

// Checks every adapter runs on what crosses its contract, so that all of them refuse the same
// bad input with the same typed errors.

const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

/** The allocation-free check of the hot path; {@link newJobIssues} explains a failure. */
function isValidNewJob(job: NewJob): boolean {
  return (
    typeof job === "object" &&
    job !== null &&
    isNonEmptyString(job.id) &&
    isNonEmptyString(job.queue) &&
    isNonEmptyString(job.task) &&
    Number.isFinite(job.priority) &&
    Number.isFinite(job.runAt) &&
    Number.isFinite(job.createdAt) &&
    Number.isInteger(job.maxAttempts) &&
    job.maxAttempts >= 1
  );
}

function newJobIssues(job: NewJob, index: number): ValidationIssue[] {
  if (typeof job !== "object" || job === null) return [{ path: String(index), message: "must be an object" }];
  const issues: ValidationIssue[] = [];
  const at = (field: string) => `${index}.${field}`;
  for (const field of ["id", "queue", "task"] as const) {
    if (!isNonEmptyString(job[field]))
      issues.push({ path: at(field), message: "must be a non-empty string" });
  }
  for (const field of ["priority", "runAt", "createdAt"] as const) {
    if (!Number.isFinite(job[field])) issues.push({ path: at(field), message: "must be a finite number" });
  }
  if (!Number.isInteger(job.maxAttempts) || job.maxAttempts < 1) {
    issues.push({ path: at("maxAttempts"), message: "must be an integer of at least 1" });
  }
  return issues;
}

/**
 * For adapter authors: throws a `ValidationError` listing every malformed field of the jobs
 * given to `QueueAdapter.add`, by index. Allocation-free when all are valid.
 *
 * @example
 * ```ts
 * import { checkNewJobs } from "@conveyor/core";
 * checkNewJobs([{ id: "1", queue: "q", task: "t.run", input: null, priority: 0, runAt: 0, createdAt: 0, maxAttempts: 1 }], "my-adapter");
 * ```
 */
export function checkNewJobs(jobs: readonly NewJob[], scope: string): void {
  if (jobs.every(isValidNewJob)) return;
  throw new ValidationError("the jobs to add", jobs.flatMap(newJobIssues), { scope });
}

function pageCount(value: number | undefined, path: string, fallback: number, issues: ValidationIssue[]) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) issues.push({ path, message: "must be a non-negative integer" });
  return value;
}

/**
 * For adapter authors: checks the paging of a `QueueAdapter.listJobs` query and returns it with
 * its defaults (`offset` 0, `limit` 100); throws a `ValidationError` naming each bad field.
 *
 * @example
 * ```ts
 * import { checkJobQuery } from "@conveyor/core";
 * const { offset, limit } = checkJobQuery({ limit: 20 }, "my-adapter"); // { offset: 0, limit: 20 }
 * ```
 */
export function checkJobQuery(query: JobQuery, scope: string): { offset: number; limit: number } {
  const issues: ValidationIssue[] = [];
  const offset = pageCount(query.offset, "offset", 0, issues);
  const limit = pageCount(query.limit, "limit", 100, issues);
  if (issues.length > 0) throw new ValidationError("the job query", issues, { scope });
  return { offset, limit };
}

/**
 * For adapter authors: checks progress reported by a handler and returns a clean copy;
 * throws a `ValidationError` saying what is wrong.
 *
 * @example
 * ```ts
 * import { checkProgress } from "@conveyor/core";
 * checkProgress({ current: 3, total: 10 }, "my-adapter"); // { current: 3, total: 10 }
 * ```
 */
export function checkProgress(progress: Progress, scope: string): Progress {
  const issues: ValidationIssue[] = [];
  if (typeof progress !== "object" || progress === null) {
    issues.push({ path: "", message: "must be an object" });
  } else {
    if (!Number.isFinite(progress.current))
      issues.push({ path: "current", message: "must be a finite number" });
    if (progress.total !== undefined && !Number.isFinite(progress.total)) {
      issues.push({ path: "total", message: "must be a finite number when given" });
    }
    if (progress.message !== undefined && typeof progress.message !== "string") {
      issues.push({ path: "message", message: "must be a string when given" });
    }
  }
  if (issues.length > 0) throw new ValidationError("progress", issues, { scope });
  return {
    current: progress.current,
    ...(progress.total !== undefined ? { total: progress.total } : {}),
    ...(progress.message !== undefined ? { message: progress.message } : {}),
  };
}

/**
 * For adapter authors: throws a `ConfigError` unless `options` are usable consume options
 * (a non-empty list of queue names, an integer concurrency ≥ 1, a worker id).
 *
 * @example
 * ```ts
 * import { checkConsumeOptions } from "@conveyor/core";
 * checkConsumeOptions({ queues: ["default"], concurrency: 4, workerId: "w1" }, "my-adapter");
 * ```
 */
export function checkConsumeOptions(options: ConsumeOptions, scope: string): void {
  const { queues, concurrency, workerId, leaseMs } = options;
  if (!Array.isArray(queues) || queues.length === 0 || !queues.every(isNonEmptyString)) {
    throw new ConfigError("consume needs `queues`, a non-empty list of queue names.", { scope });
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError(
      `consume needs \`concurrency\` to be an integer of at least 1, not ${concurrency}.`,
      {
        scope,
      },
    );
  }
  if (!isNonEmptyString(workerId))
    throw new ConfigError("consume needs `workerId`, a non-empty string.", { scope });
  if (leaseMs !== undefined && (!Number.isFinite(leaseMs) || leaseMs <= 0)) {
    throw new ConfigError(`consume needs \`leaseMs\` to be a positive number of ms, not ${leaseMs}.`, {
      scope,
    });
  }
}

const OUTCOME_TYPES = new Set(["completed", "failed", "retry", "postpone", "cancelled"]);

/**
 * For adapter authors: the outcome to persist for what a job handler settled with. A valid
 * outcome is returned as is; a rejection or a malformed outcome becomes the core's decision
 * after an error (retry while attempts remain, else failed), so a bad handler never loses a job.
 *
 * @example
 * ```ts
 * import { settleOutcome, type JobRecord } from "@conveyor/core";
 * declare const record: JobRecord;
 * const outcome = settleOutcome(record, new Error("boom"), true, "my-adapter"); // retry or failed
 * ```
 */
export function settleOutcome(record: JobRecord, value: unknown, rejected: boolean, scope: string): Outcome {
  let problem: unknown = value;
  if (!rejected) {
    const outcome = value as Outcome | undefined;
    if (typeof outcome !== "object" || outcome === null || !OUTCOME_TYPES.has(outcome.type)) {
      problem = new ConveyorError(
        "INVALID_OUTCOME",
        "the job handler returned no valid outcome. This is a bug in the runtime; report it.",
        { scope },
      );
    } else if ((outcome.type === "retry" || outcome.type === "postpone") && !Number.isFinite(outcome.runAt)) {
      problem = new ConveyorError(
        "INVALID_OUTCOME",
        `the job handler returned a ${outcome.type} outcome without a valid runAt. This is a bug in the runtime; report it.`,
        { scope },
      );
    } else {
      return outcome;
    }
  }
  return decideAfterError(record, serializeError(problem, record.attempt), Date.now());
}

/**
 * For adapter authors: the abort half of an {@link ActiveJob}, shared by every adapter's claim.
 * `abort(reason)` is idempotent (the first reason wins), reaches the one listener the runtime set
 * with `onAbort` (at once if the claim was already aborted) and the `signal`, which is created on
 * first read only — most handlers never read it, and an `AbortController` per job costs.
 *
 * @example
 * ```ts
 * import { AbortableClaim, type ActiveJob, type JobRecord, type Progress } from "@conveyor/core";
 * class Claim extends AbortableClaim implements ActiveJob {
 *   constructor(readonly record: JobRecord) { super(); }
 *   progress = async (_progress: Progress) => {};
 * }
 * const claim = new Claim(record);
 * claim.abort(new Error("cancelled")); // claim.signal.aborted === true
 * ```
 */
export abstract class AbortableClaim {
  private controller: AbortController | undefined;
  private listener: ((reason: unknown) => void) | undefined;
  /** Why the claim was aborted; `undefined` while it was not. */
  abortReason: unknown;

  /** Aborted with the claim's first abort reason; created on first read. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Sets the one abort listener (the runtime's); called at once when the claim is already aborted. */
  onAbort(listener: (reason: unknown) => void): void {
    this.listener = listener;
    if (this.abortReason !== undefined) listener(this.abortReason);
  }

  /** Aborts the claim with `reason`; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.listener?.(reason);
  }
}
