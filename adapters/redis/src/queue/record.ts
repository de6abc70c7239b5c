import type { JobEvent, JobEventType, JobRecord, JobState } from "@conveyor/core";

const parse = (text: string | null | undefined): unknown =>
  text === undefined || text === null || text === "" ? undefined : JSON.parse(text);
const num = (text: string | number | null | undefined): number | undefined =>
  text === undefined || text === null ? undefined : Number(text);

/** One claimed job as claim-2.lua answers it: its CLAIM_FIELDS values in order, then id and queue. */
export type ClaimedFields = readonly (string | number | null)[];

/**
 * A claimed job's record from claim-2.lua's answer (fields in the order of its CLAIM_FIELDS), with
 * what the claim set: state `active`, `startedAt` (the script's `now`) and `workerId`.
 */
export function claimedRecord(v: ClaimedFields, startedAt: number, workerId: string): JobRecord {
  return {
    id: v[15] as string,
    queue: v[16] as string,
    task: v[1] as string,
    input: parse(v[2] as string | null),
    state: "active",
    priority: Number(v[3]),
    attempt: Number(v[0]),
    maxAttempts: Number(v[4]),
    backoff: parse(v[5] as string | null) as JobRecord["backoff"],
    timeoutMs: num(v[6]),
    createdAt: Number(v[7]),
    runAt: Number(v[8]),
    startedAt,
    finishedAt: num(v[9]),
    progress: parse(v[10] as string | null) as JobRecord["progress"],
    result: parse(v[11] as string | null),
    error: parse(v[12] as string | null) as JobRecord["error"],
    expiresAt: num(v[13]),
    workerId,
    meta: parse(v[14] as string | null) as JobRecord["meta"],
  };
}

/** A job from its hash (HGETALL as a flat list), every field present as in the core's records. */
export function toRecord(flat: readonly string[]): JobRecord {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id: f.id!,
    queue: f.queue!,
    task: f.task!,
    input: parse(f.input),
    state: f.state as JobState,
    priority: Number(f.priority),
    attempt: Number(f.attempt),
    maxAttempts: Number(f.maxAttempts),
    backoff: parse(f.backoff) as JobRecord["backoff"],
    timeoutMs: num(f.timeoutMs),
    createdAt: Number(f.createdAt),
    runAt: Number(f.runAt),
    startedAt: num(f.startedAt),
    finishedAt: num(f.finishedAt),
    progress: parse(f.progress) as JobRecord["progress"],
    result: parse(f.result),
    error: parse(f.error) as JobRecord["error"],
    expiresAt: num(f.expiresAt),
    // Emptied rather than deleted when a job finishes (one Redis call less per job).
    workerId: f.workerId || undefined,
    meta: parse(f.meta) as JobRecord["meta"],
  };
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
