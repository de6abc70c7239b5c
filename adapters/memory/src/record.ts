import type { JobRecord } from "@conveyor/core";
import { copyValue } from "./copy.js";

/**
 * The record with every optional field present (undefined when unset), all built by one object
 * literal so every stored record shares one hidden class. The core's state machine derives each
 * record with `{ ...job, workerId, ... }`; on Node 20's V8, adding a property that the spread
 * object lacks takes a slow path costing microseconds per job, while overwriting an existing one
 * is fast. Semantics are unchanged: {@link copyRecord} drops the undefined fields again.
 */
export function fullShape(record: JobRecord): JobRecord {
  return {
    id: record.id,
    queue: record.queue,
    task: record.task,
    input: record.input,
    state: record.state,
    priority: record.priority,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    backoff: record.backoff,
    timeoutMs: record.timeoutMs,
    createdAt: record.createdAt,
    runAt: record.runAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    progress: record.progress,
    result: record.result,
    error: record.error,
    expiresAt: record.expiresAt,
    workerId: record.workerId,
    meta: record.meta,
  };
}

/** A deep copy of a stored record for a caller, without the fields {@link fullShape} left undefined. */
export function copyRecord(record: JobRecord): JobRecord {
  const out: Record<string, unknown> = {};
  for (const key in record) {
    const value = (record as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = typeof value === "object" ? copyValue(value) : value;
  }
  return out as unknown as JobRecord;
}

const copyField = <T>(value: T): T =>
  typeof value === "object" && value !== null ? (copyValue(value) as T) : value;

/**
 * A deep copy of a stored record that keeps its full shape (undefined fields stay present), built
 * by one literal: the hot-path copy handed to handlers and returned by `add`. {@link copyRecord},
 * which drops undefined fields, serves the inspection reads.
 */
export function snapshotRecord(record: JobRecord): JobRecord {
  return {
    id: record.id,
    queue: record.queue,
    task: record.task,
    input: copyField(record.input),
    state: record.state,
    priority: record.priority,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    backoff: copyField(record.backoff),
    timeoutMs: record.timeoutMs,
    createdAt: record.createdAt,
    runAt: record.runAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    progress: copyField(record.progress),
    result: copyField(record.result),
    error: copyField(record.error),
    expiresAt: record.expiresAt,
    workerId: record.workerId,
    meta: copyField(record.meta),
  };
}
