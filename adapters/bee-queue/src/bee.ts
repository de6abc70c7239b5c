import { createRequire } from "node:module";
import BeeQueue from "bee-queue";
import type { RedisClient } from "redis";

/** The parts of a Bee-Queue queue this adapter drives beyond its typed API. */
export interface BeeInternals {
  /** Raises due delayed jobs and re-arms Bee-Queue's own timer (`activateDelayedJobs`). */
  _activateDelayed(): void;
  /** Takes the next job: BRPOPLPUSH waiting → active on `bclient`, then reads its data. */
  _waitForJob(): Promise<BeeQueue.Job<unknown> | null>;
  readonly bclient: RedisClient;
  readonly paused: boolean;
  readonly settings: { initialRedisFailureRetryDelay: number };
  _redisFailureRetryDelay: number;
  toKey(name: string): string;
  /** Writes a job's outcome (Bee-Queue's finishing MULTI) once its handler settled. */
  _finishJob(error: unknown, data: unknown, job: BeeQueue.Job<unknown>): Promise<[string, unknown]>;
  /** Renews a running job against the stall check (SREM from its stalling set). */
  _preventStall(id: string): Promise<unknown>;
}

/** A Bee-Queue queue as the adapter uses it. */
export type Bee = BeeQueue & BeeInternals;

/** The name of the backoff strategy that hands Bee-Queue the delay the Conveyor core decided. */
export const CONVEYOR_BACKOFF = "conveyor";

/** What a worker queue is made with; see {@link createWorkerBee}. */
export interface WorkerBeeOptions {
  prefix: string;
  client: RedisClient;
  stallIntervalMs: number;
  /** Longest wait of Bee-Queue's delayed-job timer before it looks again. */
  delayedWindowMs: number;
}

/**
 * A Bee-Queue worker queue for one queue name: it claims jobs (BRPOPLPUSH on its own blocking
 * connection), keeps them from stalling while they run, retries them through its delayed set and
 * raises delayed jobs when due. It shares the adapter's command connection; its events go out as
 * Conveyor's (see the Lua scripts), so its own are off.
 */
export function createWorkerBee(name: string, options: WorkerBeeOptions): Bee {
  const settings: BeeQueue.QueueSettings & Record<string, unknown> = {
    prefix: options.prefix,
    redis: options.client,
    quitCommandClient: false,
    isWorker: true,
    getEvents: false,
    sendEvents: false,
    // Bee-Queue keeps every job object it saves or fetches in a map until it hears the job's
    // events; with events off that map would only grow.
    storeJobs: false,
    // Finished jobs keep their Bee-Queue data until the Conveyor record goes (TTL, remove,
    // purge): a stalled copy of a job that finished late must still find its data.
    removeOnSuccess: false,
    removeOnFailure: false,
    activateDelayedJobs: true,
    delayedDebounce: 0,
    nearTermWindow: options.delayedWindowMs,
    stallInterval: options.stallIntervalMs,
    // The first retry of a blocking claim cut by a lost connection; Bee-Queue doubles it on each
    // failure, and a command issued while Redis is away waits in the client's offline queue.
    initialRedisFailureRetryDelay: 100,
  };
  const bee = new BeeQueue(name, settings) as Bee;
  bee.backoffStrategies.set(
    CONVEYOR_BACKOFF,
    (job) => (job.options as { backoff: { delay: number } }).backoff.delay,
  );
  return bee;
}

interface BeeLua {
  buildCache(client: RedisClient): Promise<unknown>;
}

let lua: BeeLua | undefined;

interface BeeModules {
  Job: new (queue: Bee, id: string, data: unknown, options: Record<string, unknown>) => BeeQueue.Job<unknown>;
  isAbortError(error: unknown): boolean;
}
let modules: BeeModules | undefined;

/** Bee-Queue's `Job` class and `isAbortError`, which its typed API does not export. */
function beeModules(): BeeModules {
  if (modules) return modules;
  const require = createRequire(import.meta.url);
  modules = {
    Job: require("bee-queue/lib/job.js") as BeeModules["Job"],
    isAbortError: (require("bee-queue/lib/redis.js") as { isAbortError(error: unknown): boolean })
      .isAbortError,
  };
  return modules;
}

/** What a Bee-Queue job object is made of (Bee-Queue's job JSON holds the same). */
export interface BeeJobParts {
  readonly data: unknown;
  readonly options: Record<string, unknown>;
}

/** A job the adapter took for a Bee-Queue worker itself. */
export interface TakenJob extends BeeJobParts {
  readonly id: string;
}

/**
 * Makes `bee` take each job with `fetch` instead of Bee-Queue's own read of the job data, so the
 * worker can read and claim in one round trip: BRPOPLPUSH as Bee-Queue does it, then `fetch(id)`
 * answers what the job is made of (or `undefined` when it is gone). A failed BRPOPLPUSH is
 * retried as Bee-Queue retries it (an error event, then a doubling delay). Before that, `next()`
 * may hand over a job the adapter already took (its finish script takes the next job as it
 * finishes one): no BRPOPLPUSH then, unless that job turns out to be none.
 */
export function takeJobsWith(
  bee: Bee,
  fetch: (id: string) => Promise<BeeJobParts | undefined>,
  next: () => Promise<TakenJob | undefined> | undefined,
): void {
  const { Job, isAbortError } = beeModules();
  const block = (): Promise<BeeQueue.Job<unknown> | null> =>
    new Promise<string | null>((resolve, reject) => {
      bee.bclient.brpoplpush(bee.toKey("waiting"), bee.toKey("active"), 0, (error, id) =>
        error ? reject(error) : resolve(id),
      );
    }).then(
      async (id) => {
        if (id === null) return null;
        const parts = await fetch(id);
        return parts === undefined ? null : new Job(bee, id, parts.data, parts.options);
      },
      async (error: unknown) => {
        if (isAbortError(error) && bee.paused) return null;
        bee.emit("error", error);
        bee._redisFailureRetryDelay = bee._redisFailureRetryDelay
          ? bee._redisFailureRetryDelay * 2
          : bee.settings.initialRedisFailureRetryDelay;
        await new Promise((resolve) => setTimeout(resolve, bee._redisFailureRetryDelay));
        return block();
      },
    );
  // After a finish that took nothing, the BRPOPLPUSH waits for the I/O already received (the
  // job's own events among it), as Bee-Queue's next take does (setImmediate): its write would
  // otherwise come first.
  const later = () => new Promise<void>((resolve) => setImmediate(resolve));
  const take = (): Promise<BeeQueue.Job<unknown> | null> => {
    const taken = next();
    if (taken === undefined) return block();
    return taken.then((job) =>
      job === undefined ? later().then(take) : new Job(bee, job.id, job.data, job.options),
    );
  };
  bee._waitForJob = take;
}

/**
 * Loads Bee-Queue's own Lua scripts into Redis again. Bee-Queue loads them once when a queue
 * connects and then calls them by SHA; a restarted Redis has forgotten them, and without this its
 * stall checks and delayed-job timer fail with NOSCRIPT for good.
 */
export async function reloadBeeScripts(client: RedisClient): Promise<void> {
  lua ??= createRequire(import.meta.url)("bee-queue/lib/lua/index.js") as BeeLua;
  await lua.buildCache(client);
}

/**
 * What a handler returns when its job is already finished on Bee-Queue's side too (the finish
 * script did what Bee-Queue's finishing MULTI does): Bee-Queue then writes nothing.
 */
export class Finished {
  constructor(readonly status: "succeeded" | "failed" | "retrying") {}
}

/**
 * Makes `bee` leave the finishing writes of a job whose handler answered {@link Finished} to the
 * adapter's finish script, and skip its first renewal against stalling for the jobs `claimed`
 * says the claim script already renewed. Any other answer finishes as Bee-Queue does.
 */
export function finishJobsWith(bee: Bee, claimed: (id: string) => boolean): void {
  const finish = bee._finishJob.bind(bee);
  bee._finishJob = (error, data, job) =>
    data instanceof Finished ? Promise.resolve([data.status, null]) : finish(error, data, job);
  const preventStall = bee._preventStall.bind(bee);
  bee._preventStall = (id) => (claimed(id) ? Promise.resolve() : preventStall(id));
}
