import type { JobEvent, JobEventType, JobRecord, JobState } from "@conveyor/core";

const parse = (text: string | undefined): unknown =>
  text === undefined || text === "" ? undefined : JSON.parse(text);
const num = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));

/** A job from its side-store hash (HGETALL as a flat list), without the fields that are unset. */
export function toRecord(flat: readonly string[]): JobRecord {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  const record: JobRecord = {
    id: f.id!,
    queue: f.queue!,
    task: f.task!,
    input: parse(f.input),
    state: f.state as JobState,
    priority: Number(f.priority),
    attempt: Number(f.attempt),
    maxAttempts: Number(f.maxAttempts),
    createdAt: Number(f.createdAt),
    runAt: Number(f.runAt),
  };
  if (f.backoff !== undefined) record.backoff = parse(f.backoff) as JobRecord["backoff"];
  if (f.timeoutMs !== undefined) record.timeoutMs = num(f.timeoutMs);
  if (f.startedAt !== undefined) record.startedAt = num(f.startedAt);
  if (f.finishedAt !== undefined) record.finishedAt = num(f.finishedAt);
  if (f.progress !== undefined) record.progress = parse(f.progress) as JobRecord["progress"];
  if (f.result !== undefined) record.result = parse(f.result);
  if (f.error !== undefined) record.error = parse(f.error) as JobRecord["error"];
  if (f.expiresAt !== undefined) record.expiresAt = num(f.expiresAt);
  // A finished job keeps workerId "" (one write at finish instead of an HDEL).
  if (f.workerId) record.workerId = f.workerId;
  if (f.meta !== undefined) record.meta = parse(f.meta) as JobRecord["meta"];
  return record;
}

/** A message on a Bee-Queue `events` channel. */
interface BeeMessage {
  id?: unknown;
  event?: unknown;
  data?: unknown;
  conveyor?: {
    type: JobEventType;
    at: number;
    attempt?: number;
    error?: JobEvent["error"];
    runAt?: number;
    /** Several jobs with the same event (a bulk add's `added`). */
    ids?: unknown;
  };
}

/** Bee-Queue's own event names, as Conveyor calls them. */
const BEE_EVENTS: Readonly<Record<string, JobEventType>> = {
  succeeded: "completed",
  failed: "failed",
  retrying: "retrying",
  progress: "progress",
};

/**
 * The Conveyor events in a message of the Bee-Queue channel of `queue`: the full event Conveyor
 * attached (one per id when it names several, as a bulk add's `added` does), or — for a message
 * Bee-Queue itself sent (a job run by a plain Bee-Queue worker) — the event it maps to, with what
 * Bee-Queue tells (`succeeded` → completed with its result, `failed` / `retrying` → an error with
 * the message only, `progress` as given). None for anything else.
 */
export function toEvents(queue: string, text: string): JobEvent[] {
  let message: BeeMessage;
  try {
    message = JSON.parse(text) as BeeMessage;
  } catch {
    return [];
  }
  if (typeof message !== "object" || message === null || typeof message.id !== "string") return [];
  const { conveyor } = message;
  if (conveyor && typeof conveyor === "object" && Array.isArray(conveyor.ids)) {
    return conveyor.ids
      .filter((id): id is string => typeof id === "string")
      .map((jobId) => ({ type: conveyor.type, jobId, queue, at: conveyor.at }));
  }
  const event = toEvent(queue, message, message.id);
  return event === undefined ? [] : [event];
}

/** The one event of a parsed message (see {@link toEvents}). */
function toEvent(queue: string, message: BeeMessage, jobId: string): JobEvent | undefined {
  const conveyor = message.conveyor;
  if (conveyor && typeof conveyor === "object") {
    const event: JobEvent = { type: conveyor.type, jobId, queue, at: conveyor.at };
    if (conveyor.attempt !== undefined) event.attempt = conveyor.attempt;
    if (conveyor.type === "completed") event.result = message.data;
    if (conveyor.type === "progress") event.progress = message.data as JobEvent["progress"];
    if (conveyor.error !== undefined) event.error = conveyor.error;
    if (conveyor.runAt !== undefined) event.runAt = conveyor.runAt;
    return event;
  }
  const type = typeof message.event === "string" ? BEE_EVENTS[message.event] : undefined;
  if (type === undefined) return undefined;
  const event: JobEvent = { type, jobId, queue, at: Date.now() };
  if (type === "completed") event.result = message.data;
  else if (type === "progress") {
    const progress = message.data;
    event.progress =
      typeof progress === "number" ? { current: progress } : (progress as JobEvent["progress"]);
  } else {
    event.error = { name: "Error", message: String(message.data ?? ""), attempt: 0 };
  }
  return event;
}
