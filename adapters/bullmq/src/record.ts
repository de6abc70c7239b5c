import type {
  BackoffOptions,
  JobEvent,
  JobRecord,
  JobState,
  Progress,
  SerializedError,
} from "@conveyor/core";

/**
 * What the adapter stores in BullMQ's `data` of a job: the task input and the fields of a
 * Conveyor job that BullMQ has no place for. Written with the job in one BullMQ add.
 */
export interface JobData {
  /** The task input. */
  i: unknown;
  /** maxAttempts */
  a: number;
  /** createdAt (epoch ms) */
  c: number;
  /** runAt at creation (epoch ms) */
  r: number;
  /** Conveyor priority (higher first) */
  p: number;
  b?: BackoffOptions;
  t?: number;
  m?: Record<string, string>;
}

/**
 * Fields the adapter adds to BullMQ's job hash. BullMQ ignores fields it does not know and
 * deletes them with the job.
 */
export const FIELD = {
  /** Why the job sits in BullMQ's delayed or failed set: retrying, delayed, cancelled, failed. */
  kind: "cvk",
  /** The SerializedError of the last failed attempt, as JSON. */
  error: "cve",
  /** runAt of a retry or a postponement (epoch ms). */
  runAt: "cvr",
  /**
   * expiresAt (epoch ms) of a failed or cancelled job. A completed job's is kept only as its
   * score in the queue's `cv:expiring` zset (one write less per job).
   */
  expiresAt: "cvx",
  /** "1" once a cancel was requested while active. */
  cancel: "cvc",
} as const;

/**
 * BullMQ's `priority` for a Conveyor priority: every job goes through BullMQ's prioritized set
 * (lower runs first, FIFO within one value), so Conveyor's default 0 sorts after positive and
 * before negative priorities.
 */
export const PRIORITY_ZERO = 1_048_576;
/** Largest Conveyor priority that fits BullMQ's range (1 … 2^21). */
export const MAX_PRIORITY = PRIORITY_ZERO - 1;
/** Smallest Conveyor priority that fits BullMQ's range. */
export const MIN_PRIORITY = PRIORITY_ZERO - 2_097_152;

const parse = (text: string | undefined): unknown => {
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

const num = (text: string | undefined): number | undefined => {
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
};

function stateOf(bullState: string, kind: string | undefined): JobState | undefined {
  switch (bullState) {
    case "wait":
    case "prioritized":
    case "paused":
    case "waiting":
      return "waiting";
    case "active":
      return "active";
    case "delayed":
      return kind === "retrying" ? "retrying" : "delayed";
    case "completed":
      return "completed";
    case "failed":
      return kind === "cancelled" ? "cancelled" : "failed";
    default:
      return undefined;
  }
}

function isProgress(value: unknown): value is Progress {
  return typeof value === "object" && value !== null && typeof (value as Progress).current === "number";
}

/**
 * The Conveyor record of a BullMQ job hash (`HGETALL` as a field map) in BullMQ state
 * `bullState`, with `expiring` its score in the queue's `cv:expiring` zset ("" or undefined when
 * it has none); undefined when the hash is not one of this adapter's jobs or its state is
 * unknown. Fields that are unset are left out.
 */
export function toRecord(
  id: string,
  queue: string,
  hash: Record<string, string>,
  bullState: string,
  expiring?: string | null,
): JobRecord | undefined {
  const data = parse(hash.data) as JobData | undefined;
  if (typeof data !== "object" || data === null || typeof data.c !== "number") return undefined;
  const state = stateOf(bullState, hash[FIELD.kind]);
  if (state === undefined) return undefined;
  const record: JobRecord = {
    id,
    queue,
    task: hash.name ?? "",
    input: data.i,
    state,
    priority: data.p,
    attempt: Math.max(0, num(hash.ats) ?? 0),
    maxAttempts: data.a,
    createdAt: data.c,
    runAt: num(hash[FIELD.runAt]) ?? data.r,
  };
  if (data.b !== undefined) record.backoff = data.b;
  if (data.t !== undefined) record.timeoutMs = data.t;
  if (data.m !== undefined) record.meta = data.m;
  const startedAt = num(hash.processedOn);
  if (startedAt !== undefined && record.attempt > 0) record.startedAt = startedAt;
  const terminal = state === "completed" || state === "failed" || state === "cancelled";
  if (terminal) {
    const finishedAt = num(hash.finishedOn);
    if (finishedAt !== undefined) record.finishedAt = finishedAt;
  }
  const progress = parse(hash.progress);
  if (isProgress(progress)) record.progress = progress;
  if (state === "completed" && hash.returnvalue !== undefined) {
    const result = parse(hash.returnvalue);
    if (result !== null) record.result = result;
  }
  const error = parse(hash[FIELD.error]);
  if (typeof error === "object" && error !== null) record.error = error as SerializedError;
  else if (state === "failed" && hash.failedReason) {
    // Failed by BullMQ itself (a job stalled more often than maxStalledCount allows).
    record.error = { name: "Error", message: hash.failedReason, attempt: record.attempt };
  }
  const expiresAt = num(hash[FIELD.expiresAt]) ?? num(expiring ?? undefined);
  if (expiresAt !== undefined && terminal) record.expiresAt = expiresAt;
  if (state === "active" && hash.pb) record.workerId = hash.pb;
  return record;
}

/** A field map from the flat `[field, value, …]` array HGETALL returns inside a script. */
export function fieldMap(flat: readonly string[], from = 0): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/**
 * The Conveyor event of one entry of a BullMQ events stream, or undefined for entries that do
 * not map to one (BullMQ's own `active`, `failed` and `delayed`, which the adapter replaces with
 * `cv:` events that carry the attempt and the error; a first `waiting` right after `added`).
 */
export function toEvent(
  queue: string,
  streamId: string,
  args: Record<string, unknown>,
  type: string,
): JobEvent | undefined {
  const jobId = String(args.jobId ?? "");
  if (jobId === "") return undefined;
  const at = num(args.at as string | undefined) ?? Number(streamId.slice(0, streamId.indexOf("-")));
  switch (type) {
    case "added":
      return { type: "added", jobId, queue, at };
    case "waiting":
      // BullMQ emits waiting after added for every new job; only a job ready *again* counts.
      return args.prev === undefined ? undefined : { type: "waiting", jobId, queue, at };
    case "progress": {
      const progress = args.data;
      return isProgress(progress) ? { type: "progress", jobId, queue, at, progress } : undefined;
    }
    case "completed": {
      const event: JobEvent = { type: "completed", jobId, queue, at };
      if (args.returnvalue !== null && args.returnvalue !== undefined) event.result = args.returnvalue;
      return event;
    }
    case "removed":
      return { type: "removed", jobId, queue, at };
    case "stalled":
      return { type: "stalled", jobId, queue, at };
    case "cv:active":
    case "cv:failed":
    case "cv:retrying":
    case "cv:delayed":
    case "cv:cancelled": {
      const event: JobEvent = { type: type.slice(3) as JobEvent["type"], jobId, queue, at };
      const attempt = num(args.attempt as string | undefined);
      if (attempt !== undefined) event.attempt = attempt;
      const error = parse(args.error as string | undefined);
      if (typeof error === "object" && error !== null) event.error = error as SerializedError;
      const runAt = num(args.runAt as string | undefined);
      if (runAt !== undefined) event.runAt = runAt;
      return event;
    }
    default:
      return undefined;
  }
}
