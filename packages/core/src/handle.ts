import type { JobEvent, JobRecord, JobState, Progress } from "./contracts/job.js";
import type { CancelResult, QueueAdapter } from "./contracts/queue.js";
import {
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  JobStateError,
  TimeoutError,
  UnsupportedFeatureError,
} from "./errors.js";
import { isTerminal } from "./state-machine.js";

/** Options for {@link JobHandle.result}. */
export interface ResultOptions {
  /** Give up waiting after this many ms with a `TimeoutError` (the job keeps running). @defaultValue wait forever */
  timeoutMs?: number;
  /** Stop waiting when aborted. */
  signal?: AbortSignal;
}

/** Options for {@link JobHandle.events}. */
export interface EventsOptions {
  /** Stop the stream when aborted. */
  signal?: AbortSignal;
  /**
   * For adapters without the `events` capability, events are made from polling the job.
   * @defaultValue 100
   */
  pollIntervalMs?: number;
}

/** A handle on one job, usable from any process that shares the backend. */
export interface JobHandle<O = unknown> {
  /** The job id. */
  readonly id: string;
  /** The job as stored now; throws `JobNotFoundError` when it does not exist. */
  get(): Promise<JobRecord>;
  /** The job's state now. */
  status(): Promise<JobState>;
  /** The latest progress, if any was reported. */
  progress(): Promise<Progress | undefined>;
  /**
   * Waits for the job to finish and returns its result. Throws `JobFailedError` (with the stored
   * error) when it failed, `JobCancelledError` when cancelled, `TimeoutError` when `timeoutMs` passed.
   */
  result(options?: ResultOptions): Promise<O>;
  /**
   * The job's lifecycle events from now on, ending after its terminal event. When the job has
   * already finished, yields one event for its final state.
   */
  events(options?: EventsOptions): AsyncGenerator<JobEvent, void, undefined>;
  /** Cancels the job; an active job's handler is signalled and the job ends `cancelled`. */
  cancel(): Promise<CancelResult>;
  /** Moves a failed or cancelled job back to waiting with a fresh attempt budget. */
  retry(): Promise<void>;
}

/** The handle `enqueue` returns: a {@link JobHandle} that also knows where the job went. */
export interface EnqueuedJob<O = unknown> extends JobHandle<O> {
  /** The queue the job is on. */
  readonly queue: string;
  /** The task name. */
  readonly task: string;
  /** False when a job with the same `jobId` existed and was returned instead (dedupe). */
  readonly created: boolean;
}

const TERMINAL_EVENTS = new Set(["completed", "failed", "cancelled", "removed"]);

function finalEvent(record: JobRecord): JobEvent {
  const base = {
    jobId: record.id,
    queue: record.queue,
    at: record.finishedAt ?? Date.now(),
    attempt: record.attempt,
  };
  if (record.state === "completed") return { ...base, type: "completed", result: record.result };
  if (record.state === "failed")
    return { ...base, type: "failed", ...(record.error ? { error: record.error } : {}) };
  return { ...base, type: "cancelled" };
}

function settle<O>(record: JobRecord): O {
  if (record.state === "completed") return record.result as O;
  if (record.state === "failed") {
    throw new JobFailedError(
      record.id,
      record.error ?? { name: "Error", message: "unknown error", attempt: record.attempt },
    );
  }
  throw new JobCancelledError(record.id);
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

/** Options of {@link createJobHandle}. */
export interface JobHandleOptions {
  /** How long a job cancelled through the handle is kept, in ms. @defaultValue kept until removed */
  resultTtlMs?: number;
}

/**
 * A handle on one job. A class, so that `enqueueMany` of many jobs allocates one small object
 * per job rather than a closure per method.
 */
class Handle<O> implements JobHandle<O> {
  constructor(
    readonly id: string,
    protected readonly adapter: QueueAdapter,
    protected readonly options: JobHandleOptions,
  ) {}

  async get(): Promise<JobRecord> {
    const record = await this.adapter.getJob(this.id);
    if (!record) throw new JobNotFoundError(this.id);
    return record;
  }

  async status(): Promise<JobState> {
    return (await this.get()).state;
  }

  async progress(): Promise<Progress | undefined> {
    return (await this.get()).progress;
  }

  async result(options: ResultOptions = {}): Promise<O> {
    const { timeoutMs, signal } = options;
    if (!this.adapter.capabilities.results) {
      throw new UnsupportedFeatureError(this.adapter.name, "stored job results (job.result())");
    }
    signal?.throwIfAborted();
    const first = await this.get();
    if (isTerminal(first.state)) return settle<O>(first);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for await (const event of this.stream(signal ? { signal } : {}, deadline)) {
      if (TERMINAL_EVENTS.has(event.type)) break;
    }
    if (deadline !== undefined && Date.now() >= deadline) {
      const record = await this.get();
      if (isTerminal(record.state)) return settle<O>(record);
      throw new TimeoutError(
        `waiting for the result of job ${this.id}`,
        timeoutMs!,
        `The job is still ${record.state} and keeps running; wait longer or check later with \`conveyor status ${this.id}\`.`,
      );
    }
    signal?.throwIfAborted();
    return settle<O>(await this.get());
  }

  events(options: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    return this.stream(options);
  }

  cancel(): Promise<CancelResult> {
    const ttl = this.options.resultTtlMs;
    return this.adapter.cancel(this.id, ttl !== undefined ? { expiresAt: Date.now() + ttl } : {});
  }

  async retry(): Promise<void> {
    const record = await this.adapter.retry(this.id);
    if (!record) {
      const current = await this.get();
      throw new JobStateError(this.id, current.state, "retried", "failed or cancelled");
    }
  }

  private stream(options: EventsOptions, deadline?: number): AsyncGenerator<JobEvent, void, undefined> {
    const fetch = () => this.get();
    return this.adapter.capabilities.events
      ? streamEvents(this.adapter, this.id, fetch, options.signal, deadline)
      : pollEvents(fetch, options.signal, options.pollIntervalMs ?? 100, deadline);
  }
}

/** The handle `enqueue` returns. */
class Enqueued<O> extends Handle<O> implements EnqueuedJob<O> {
  constructor(
    record: Pick<JobRecord, "id" | "queue" | "task">,
    adapter: QueueAdapter,
    options: JobHandleOptions,
    readonly created: boolean,
  ) {
    super(record.id, adapter, options);
    this.queue = record.queue;
    this.task = record.task;
  }
  readonly queue: string;
  readonly task: string;
}

/** Creates a handle on job `id` of `queue`. */
export function createJobHandle<O>(
  queue: QueueAdapter,
  id: string,
  options: JobHandleOptions = {},
): JobHandle<O> {
  return new Handle<O>(id, queue, options);
}

/** Creates the handle of a job just enqueued. */
export function createEnqueuedJob<O>(
  queue: QueueAdapter,
  record: Pick<JobRecord, "id" | "queue" | "task">,
  created: boolean,
  options: JobHandleOptions = {},
): EnqueuedJob<O> {
  return new Enqueued<O>(record, queue, options, created);
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function* streamEvents(
  queue: QueueAdapter,
  id: string,
  fetch: () => Promise<JobRecord>,
  signal: AbortSignal | undefined,
  deadline: number | undefined,
): AsyncGenerator<JobEvent, void, undefined> {
  const buffer: JobEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = await queue.subscribe(
    (event) => {
      buffer.push(event);
      wake?.();
    },
    { jobId: id },
  );
  try {
    const record = await fetch();
    if (isTerminal(record.state)) {
      yield finalEvent(record);
      return;
    }
    for (;;) {
      while (buffer.length > 0) {
        const event = buffer.shift()!;
        yield event;
        if (TERMINAL_EVENTS.has(event.type)) return;
      }
      if (signal?.aborted) throw abortError(signal);
      const remaining = deadline === undefined ? 2 ** 31 - 1 : deadline - Date.now();
      if (remaining <= 0) return;
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", finish);
          resolve();
        };
        const timer = setTimeout(finish, Math.min(remaining, 2 ** 31 - 1));
        signal?.addEventListener("abort", finish, { once: true });
        wake = finish;
      });
      wake = undefined;
    }
  } finally {
    await unsubscribe();
  }
}

/** Emulates lifecycle events for adapters without the `events` capability by polling the job. */
async function* pollEvents(
  fetch: () => Promise<JobRecord>,
  signal: AbortSignal | undefined,
  intervalMs: number,
  deadline: number | undefined,
): AsyncGenerator<JobEvent, void, undefined> {
  let last = await fetch();
  if (isTerminal(last.state)) {
    yield finalEvent(last);
    return;
  }
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    const remaining = deadline === undefined ? intervalMs : Math.min(intervalMs, deadline - Date.now());
    if (remaining <= 0) return;
    await sleep(remaining, signal);
    if (signal?.aborted) throw abortError(signal);
    const record = await fetch();
    const base = { jobId: record.id, queue: record.queue, at: Date.now(), attempt: record.attempt };
    if (record.state !== last.state || record.attempt !== last.attempt) {
      if (isTerminal(record.state)) {
        yield finalEvent(record);
        return;
      }
      if (record.state === "active") yield { ...base, type: "active" };
      else if (record.state === "retrying")
        yield {
          ...base,
          type: "retrying",
          runAt: record.runAt,
          ...(record.error ? { error: record.error } : {}),
        };
      else if (record.state === "delayed") yield { ...base, type: "delayed", runAt: record.runAt };
    }
    if (record.progress && JSON.stringify(record.progress) !== JSON.stringify(last.progress)) {
      yield { ...base, type: "progress", progress: record.progress };
    }
    last = record;
  }
}
