import type { JobEvent, JobEventType, JobRecord, JobState } from "@conveyor/core";

const parse = (text: string | null | undefined): unknown =>
  text === undefined || text === null || text === "" ? undefined : JSON.parse(text);
const num = (text: string | number | null | undefined): number | undefined =>
  text === undefined || text === null ? undefined : Number(text);

/**
 * What never changes of a job, stored as one JSON value (hash field `d`): one field to write, read
 * and parse instead of eight. The scripts index and update the other fields (queue, priority,
 * runAt, state, attempt, outcome…).
 */
export interface JobData {
  id: string;
  task: string;
  input?: unknown;
  maxAttempts: number;
  backoff?: JobRecord["backoff"];
  timeoutMs?: number;
  createdAt: number;
  meta?: JobRecord["meta"];
}

/** One claimed job as claim-2.lua answers it: its CLAIM_FIELDS values in order, then its queue. */
export type ClaimedFields = readonly (string | number | null)[];

function withData(
  d: string,
  queue: string,
  rest: Omit<JobRecord, keyof JobData | "queue"> & { attempt: number },
): JobRecord {
  const data = JSON.parse(d) as JobData;
  return {
    id: data.id,
    queue,
    task: data.task,
    input: data.input,
    state: rest.state,
    priority: rest.priority,
    attempt: rest.attempt,
    maxAttempts: data.maxAttempts,
    backoff: data.backoff,
    timeoutMs: data.timeoutMs,
    createdAt: data.createdAt,
    runAt: rest.runAt,
    startedAt: rest.startedAt,
    finishedAt: rest.finishedAt,
    progress: rest.progress,
    result: rest.result,
    error: rest.error,
    expiresAt: rest.expiresAt,
    workerId: rest.workerId,
    meta: data.meta,
  };
}

/**
 * A claimed job's record from claim-2.lua's answer (fields in the order of its CLAIM_FIELDS), with
 * what the claim set: state `active`, `startedAt` (the script's `now`) and `workerId`.
 */
export function claimedRecord(v: ClaimedFields, startedAt: number, workerId: string): JobRecord {
  return withData(v[1] as string, v[9] as string, {
    state: "active",
    priority: Number(v[2]),
    attempt: Number(v[0]),
    runAt: Number(v[3]),
    startedAt,
    finishedAt: num(v[4]),
    progress: parse(v[5] as string | null) as JobRecord["progress"],
    result: parse(v[6] as string | null),
    error: parse(v[7] as string | null) as JobRecord["error"],
    expiresAt: num(v[8]),
    workerId,
  });
}

/** A job from its hash (HGETALL as a flat list), every field present as in the core's records. */
export function toRecord(flat: readonly string[]): JobRecord {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return withData(f.d!, f.queue!, {
    state: f.state as JobState,
    priority: Number(f.priority),
    attempt: Number(f.attempt),
    runAt: Number(f.runAt),
    startedAt: num(f.startedAt),
    finishedAt: num(f.finishedAt),
    progress: parse(f.progress) as JobRecord["progress"],
    result: parse(f.result),
    error: parse(f.error) as JobRecord["error"],
    expiresAt: num(f.expiresAt),
    // Emptied rather than deleted when a job finishes (one Redis call less per job).
    workerId: f.workerId || undefined,
  });
}

/** A lifecycle event from its stream entry's fields. */
export function toEvent(fields: readonly string[]): JobEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const event: JobEvent = { type: f.t as JobEventType, jobId: f.j!, queue: f.q!, at: Number(f.at) };
  if (f.a !== undefined) event.attempt = Number(f.a);
  if (f.r !== undefined) event.result = parse(f.r);
  if (f.e !== undefined) event.error = parse(f.e) as JobEvent["error"];
  if (f.p !== undefined) event.progress = parse(f.p) as JobEvent["progress"];
  if (f.ra !== undefined) event.runAt = Number(f.ra);
  return event;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = "0", as = "0"] = a.split("-");
  const [bm = "0", bs = "0"] = b.split("-");
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}
