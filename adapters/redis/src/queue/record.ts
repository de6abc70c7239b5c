import type { JobEvent, JobEventType, JobRecord, JobState } from "@conveyor/core";

const parse = (text: string | undefined): unknown =>
  text === undefined || text === "" ? undefined : JSON.parse(text);
const num = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));

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
