import {
  type AddResult,
  type CancelResult,
  ClosedError,
  ConfigError,
  checkJobQuery,
  consoleLogger,
  createRecord,
  JOB_STATES,
  type JobCounts,
  type JobQuery,
  type JobState,
  type NewJob,
  type QueueAdapter,
  type QueueCapabilities,
  type QueueFactory,
  ValidationError,
  type ValidationIssue,
} from "@conveyor/core";
import type { Cluster, Redis } from "ioredis";
import { acquire, ioredisDriver, type RedisConnectionOptions, toBackendError } from "../connection.js";
import { createRedisScheduleStore } from "../schedules/index.js";
import { parseRedisUrl } from "../url.js";
import { type ConsumerContext, RedisConsumer } from "./consumer.js";
import { EventReader } from "./events.js";
import { type JobData, toRecord } from "./record.js";
import { queueCommands } from "./scripts.js";

/**
 * What the Redis queue can do: every capability of the contract.
 *
 * @example
 * ```ts
 * import { REDIS_QUEUE_CAPABILITIES } from "@conveyor/redis";
 * if (REDIS_QUEUE_CAPABILITIES.persistent) console.log("jobs survive restarts");
 * ```
 */
export const REDIS_QUEUE_CAPABILITIES = Object.freeze({
  delayed: true,
  priority: true,
  pause: true,
  cancelActive: true,
  events: true,
  progress: true,
  results: true,
  persistent: true,
  shared: true,
} as const satisfies QueueCapabilities);

/**
 * Options of {@link createRedisQueue}.
 *
 * @example
 * ```ts
 * import type { RedisQueueOptions } from "@conveyor/redis";
 * const options: RedisQueueOptions = { url: "redis://localhost:6379/0", prefix: "myapp" };
 * ```
 */
export interface RedisQueueOptions extends RedisConnectionOptions {
  /**
   * Name space of every key, as the hash tag `{<prefix>}`: all queues of one prefix live in one
   * Cluster slot, so jobs are found by id alone and every script stays atomic on a Cluster.
   * Spread load over a Cluster with several prefixes. Must not contain `{` or `}`.
   * @defaultValue `"conveyor"`
   */
  prefix?: string;
  /**
   * Approximate bound of the lifecycle event stream (`XADD MAXLEN ~`). Events are written while
   * some adapter of the prefix, in any process, subscribes (`subscribe`, `job.events()`,
   * `job.result()`); with nobody listening the stream is not written at all.
   * @defaultValue 10_000
   */
  maxEvents?: number;
  /**
   * Called with failures that have no caller to throw to (a lost connection in a worker loop,
   * a throwing event listener). The loops retry with backoff by themselves.
   * @defaultValue logs a warning through `log`
   */
  onError?: (error: unknown) => void;
}

const DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  prefix: "conveyor",
  maxEvents: 10_000,
} satisfies RedisQueueOptions;

/** Jobs per add-2 call: small enough that Redis and this process work on different chunks at once. */
const BULK_CHUNK = 200;
const STATE_OF_SET: readonly JobState[] = [
  "waiting",
  "delayed",
  "active",
  "retrying",
  "completed",
  "failed",
  "cancelled",
];

const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

function checkNewJob(job: NewJob, index: number): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const at = (field: string) => `${index}.${field}`;
  if (typeof job !== "object" || job === null) return [{ path: String(index), message: "must be an object" }];
  if (!isNonEmptyString(job.id)) issues.push({ path: at("id"), message: "must be a non-empty string" });
  if (!isNonEmptyString(job.queue)) issues.push({ path: at("queue"), message: "must be a non-empty string" });
  if (!isNonEmptyString(job.task)) issues.push({ path: at("task"), message: "must be a non-empty string" });
  for (const field of ["priority", "runAt", "createdAt"] as const) {
    if (!Number.isFinite(job[field])) issues.push({ path: at(field), message: "must be a finite number" });
  }
  if (!Number.isInteger(job.maxAttempts) || job.maxAttempts < 1) {
    issues.push({ path: at("maxAttempts"), message: "must be an integer of at least 1" });
  }
  return issues;
}

/** Script arguments per new job (see add-2.lua). */
const ARGS_PER_JOB = 6;

/** The {@link ARGS_PER_JOB} script arguments of one new job (see add-2.lua). */
function jobArgs(job: NewJob, out: (string | number)[]): void {
  const data: JobData = {
    id: job.id,
    task: job.task,
    input: job.input,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    createdAt: job.createdAt,
    meta: job.meta,
  };
  let d: string;
  try {
    d = JSON.stringify(data);
  } catch (error) {
    throw new ValidationError(
      `the input of job ${job.id}`,
      [{ path: "input", message: `cannot be stored as JSON (${String(error)})` }],
      {
        scope: "redis",
        cause: error,
      },
    );
  }
  out.push(job.id, job.queue, d, job.priority, job.runAt, job.createdAt);
}

/**
 * Creates a reliable queue on raw Redis (ioredis + Lua): atomic claims with a lease renewed
 * while the handler runs, outcomes persisted and the next jobs claimed in one script call,
 * stalled jobs recovered by any live worker, retries through a delayed set, priorities,
 * delayed jobs, dedupe by id, pause/resume, cancel across processes, and durable lifecycle
 * events on a Redis Stream. Adapters of one URL share one command connection in the process;
 * each consumer adds one blocking connection, and cancel notices and event subscriptions one
 * each per adapter.
 *
 * @example
 * ```ts
 * import { createRedisQueue } from "@conveyor/redis";
 *
 * const queue = createRedisQueue({ url: "redis://localhost:6379/0", prefix: "myapp" });
 * await queue.add([
 *   { id: "job-1", queue: "default", task: "demo.echo", input: { text: "hi" },
 *     priority: 0, runAt: Date.now(), createdAt: Date.now(), maxAttempts: 1 },
 * ]);
 * const consumer = queue.consume({ queues: ["default"], concurrency: 8, workerId: "w1" }, async (job) => ({
 *   type: "completed",
 *   result: job.record.input,
 * }));
 * await consumer.close({ drain: true });
 * await queue.close();
 * ```
 */
export const createRedisQueue = ((options: RedisQueueOptions = {}): QueueAdapter => {
  const settings = { ...DEFAULTS, ...options };
  if (typeof settings.prefix !== "string" || settings.prefix === "" || /[{}]/.test(settings.prefix)) {
    throw new ConfigError(
      `the Redis queue option prefix must be a non-empty string without { or }, not ${JSON.stringify(settings.prefix)}.`,
      { scope: "redis" },
    );
  }
  if (!Number.isInteger(settings.maxEvents) || settings.maxEvents < 1) {
    throw new ConfigError("the Redis queue option maxEvents must be a positive integer.", { scope: "redis" });
  }
  const log = settings.log ?? consoleLogger();
  const onError =
    settings.onError ??
    ((error: unknown) =>
      log.warn("[conveyor:redis] queue: a background call failed; retrying with backoff", {
        error: error instanceof Error ? error.message : String(error),
      }));
  const target = parseRedisUrl(settings.url).target;
  const lease = acquire(ioredisDriver, "queue", target, settings);
  const redis = queueCommands(lease.client);
  const base = `{${settings.prefix}}:`;
  const maxEvents = settings.maxEvents;
  const eventsKey = `${base}events`;
  const consumers = new Set<RedisConsumer>();
  const ownClients = new Set<Redis | Cluster>();
  let closed = false;

  const connect = (role: string): Redis | Cluster => {
    const client = ioredisDriver.create(target, role);
    // Blocking calls wait as long as they need; a dropped connection is retried by the loops.
    client.on("error", () => {});
    ownClients.add(client);
    return client;
  };

  const ensureOpen = () => {
    if (closed) throw new ClosedError("this Redis queue adapter", { scope: "redis" });
  };

  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    ensureOpen();
    try {
      const waiting = lease.ready();
      if (waiting !== undefined) await waiting;
      return await run();
    } catch (error) {
      throw toBackendError(target, error);
    }
  };

  let cancelChannel: Promise<void> | undefined;
  const cancelChannelReady = () => {
    cancelChannel ??= (async () => {
      const subscriber = connect("queue-cancel");
      subscriber.on("message", (_channel: string, id: string) => {
        for (const consumer of consumers) consumer.cancelled(id);
      });
      await subscriber.subscribe(`${base}cancel`);
    })();
    return cancelChannel;
  };

  let reader: EventReader | undefined;
  const lastEventId = async (): Promise<string> => {
    const last = (await redis.xrevrange(eventsKey, "+", "-", "COUNT", 1)) as [string, string[]][];
    return last[0]?.[0] ?? "0-0";
  };

  const context: ConsumerContext = {
    redis,
    base,
    maxEvents,
    ready: () => lease.ready(),
    connectBlocking: () => connect("queue-blocking"),
    cancelChannelReady,
    onError,
    onClosed: (consumer) => consumers.delete(consumer),
  };

  return {
    name: "redis",
    capabilities: REDIS_QUEUE_CAPABILITIES,
    schedules: createRedisScheduleStore(lease.client, base, call),

    async add(jobs) {
      ensureOpen();
      if (!jobs.every((job, i) => checkNewJob(job, i).length === 0)) {
        throw new ValidationError("the jobs to add", jobs.flatMap(checkNewJob), { scope: "redis" });
      }
      const now = Date.now();
      // Every job is encoded first, so one that cannot be stored fails the call before any is added.
      const encoded: (string | number)[][] = [];
      for (let start = 0; start < jobs.length; start += BULK_CHUNK) {
        const args: (string | number)[] = [];
        for (let i = start; i < Math.min(jobs.length, start + BULK_CHUNK); i++) jobArgs(jobs[i]!, args);
        encoded.push(args);
      }
      // One chunk per macrotask, each answer turned into records as it arrives: Redis runs the
      // script of one chunk while this process sends the next and reads the answers of earlier
      // ones, instead of the two taking turns.
      const chunks: Promise<AddResult[]>[] = [];
      let from = 0;
      for (const args of encoded) {
        if (chunks.length > 0) await new Promise((resolve) => setImmediate(resolve));
        const first = from;
        from += args.length / ARGS_PER_JOB;
        const chunk = call(() =>
          redis.conveyorQueueAdd(eventsKey, `${base}queues`, base, now, maxEvents, ...args),
        ).then((replies) =>
          replies.map(
            (reply, k): AddResult =>
              reply === 1
                ? { job: createRecord(jobs[first + k]!, now), created: true }
                : { job: toRecord(reply), created: false },
          ),
        );
        // A chunk that fails while later ones are still being sent must not count as an
        // unhandled rejection; Promise.all below throws its error.
        chunk.catch(() => {});
        chunks.push(chunk);
      }
      return (await Promise.all(chunks)).flat();
    },

    consume(consumeOptions, handler) {
      ensureOpen();
      const { queues, concurrency, workerId, leaseMs = 30_000 } = consumeOptions;
      if (!Array.isArray(queues) || queues.length === 0 || !queues.every(isNonEmptyString)) {
        throw new ConfigError("consume needs `queues`, a non-empty list of queue names.", { scope: "redis" });
      }
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new ConfigError(
          `consume needs \`concurrency\` to be an integer of at least 1, not ${concurrency}.`,
          {
            scope: "redis",
          },
        );
      }
      if (!isNonEmptyString(workerId)) {
        throw new ConfigError("consume needs `workerId`, a non-empty string.", { scope: "redis" });
      }
      if (!(Number.isFinite(leaseMs) && leaseMs >= 100)) {
        throw new ConfigError(`consume needs \`leaseMs\` of at least 100, not ${leaseMs}.`, {
          scope: "redis",
        });
      }
      const consumer = new RedisConsumer(
        context,
        [...new Set(queues)],
        concurrency,
        workerId,
        Math.round(leaseMs),
        handler,
      );
      consumers.add(consumer);
      return consumer;
    },

    async getJob(id) {
      const flat = await call(() => redis.hgetall(`${base}j:${id}`));
      if (flat === null || Object.keys(flat).length === 0) return undefined;
      const record = toRecord(Object.entries(flat).flat());
      if (record.expiresAt !== undefined && record.expiresAt <= Date.now()) return undefined;
      return compact(record);
    },

    async listJobs(query: JobQuery = {}) {
      ensureOpen();
      const { offset, limit } = checkJobQuery(query, "redis");
      if (limit === 0 || query.states?.length === 0) return [];
      const states = query.states ?? [""];
      const found = await call(() =>
        redis.conveyorQueueList(
          `${base}queues`,
          base,
          Date.now(),
          query.queue ?? "",
          offset,
          limit,
          ...states,
        ),
      );
      return found.map((flat) => compact(toRecord(flat)));
    },

    async counts(queue) {
      const numbers = await call(() => redis.conveyorQueueCounts(`${base}expiring`, base, Date.now(), queue));
      const counts = {} as JobCounts;
      for (const state of JOB_STATES) counts[state] = 0;
      STATE_OF_SET.forEach((state, i) => {
        counts[state] = Number(numbers[i] ?? 0);
      });
      return counts;
    },

    async queues() {
      const [names, paused] = await call(() =>
        Promise.all([redis.smembers(`${base}queues`), redis.smembers(`${base}paused`)]),
      );
      const all = new Set([...names, ...paused]);
      const pausedSet = new Set(paused);
      return [...all].sort().map((name) => ({ name, paused: pausedSet.has(name) }));
    },

    async retry(id) {
      const flat = await call(() => redis.conveyorQueueRetry(eventsKey, base, Date.now(), maxEvents, id));
      return flat ? compact(toRecord(flat)) : undefined;
    },

    async cancel(id, cancelOptions) {
      const expiresAt = cancelOptions?.expiresAt;
      const answer = await call(() =>
        redis.conveyorQueueCancel(
          eventsKey,
          base,
          Date.now(),
          maxEvents,
          id,
          expiresAt === undefined ? "" : Math.round(expiresAt),
        ),
      );
      // A job held in this process is aborted before the answer, not a pub/sub round trip later.
      if (answer === "requested") for (const consumer of consumers) consumer.cancelled(id);
      return answer as CancelResult;
    },

    async remove(id) {
      return (await call(() => redis.conveyorQueueRemove(eventsKey, base, Date.now(), maxEvents, id))) === 1;
    },

    async purge(queue, purgeOptions = {}) {
      const { olderThanMs } = purgeOptions;
      if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
        throw new ValidationError(
          "the purge options",
          [{ path: "olderThanMs", message: "must be a non-negative number" }],
          {
            scope: "redis",
          },
        );
      }
      const states = (purgeOptions.states ?? JOB_STATES).filter((state) => state !== "active");
      if (states.length === 0) return 0;
      return call(() =>
        redis.conveyorQueuePurge(eventsKey, base, Date.now(), maxEvents, queue, olderThanMs ?? "", ...states),
      );
    },

    async pause(queue) {
      await call(() => redis.multi().sadd(`${base}paused`, queue).sadd(`${base}queues`, queue).exec());
    },

    async resume(queue) {
      const signal = `${base}q:${queue}:s`;
      await call(() =>
        redis
          .multi()
          .srem(`${base}paused`, queue)
          .sadd(`${base}queues`, queue)
          .rpush(signal, "1")
          .ltrim(signal, 0, 0)
          .exec(),
      );
    },

    async subscribe(listener, filter = {}) {
      ensureOpen();
      const listenersKey = `${base}listeners`;
      reader ??= new EventReader(
        eventsKey,
        {
          lastId: () => call(lastEventId),
          listen: (member, deadline) =>
            call(() =>
              redis
                .multi()
                .zremrangebyscore(listenersKey, "-inf", Date.now())
                .zadd(listenersKey, deadline, member)
                .exec(),
            ),
          unlisten: (member) => redis.zrem(listenersKey, member),
        },
        () => connect("queue-events"),
        onError,
      );
      return reader.subscribe(listener, filter);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((consumer) => consumer.close({ drain: false })));
      await reader?.close();
      for (const client of ownClients) client.disconnect();
      ownClients.clear();
      await lease.release();
    },
  };
}) satisfies QueueFactory<RedisQueueOptions>;

/** The record without the fields that are unset, as the other adapters return them. */
function compact<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}
