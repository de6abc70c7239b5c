import {
  type AddResult,
  type CancelResult,
  ClosedError,
  ConfigError,
  checkConsumeOptions,
  checkJobQuery,
  checkNewJobs,
  compactRecord,
  consoleLogger,
  createRecord,
  JOB_STATES,
  type JobCounts,
  type JobQuery,
  type JobRecord,
  type JobState,
  type Logger,
  type NewJob,
  type QueueAdapter,
  type QueueCapabilities,
  type QueueFactory,
  retryRecord,
  ValidationError,
  type ValidationIssue,
} from "@conveyor/core";
import { Queue as BullQueue, Job, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";
import {
  acquire,
  checkPersistence,
  clientOptions,
  closeClient,
  coalesceWrites,
  toBackendError,
  watchConnection,
} from "./connection.js";
import { BullmqConsumer, type ConsumerContext } from "./consumer.js";
import { EventHub, LISTENER_TTL_MS } from "./events.js";
import {
  FIELD,
  fieldMap,
  type JobData,
  MAX_PRIORITY,
  MIN_PRIORITY,
  PRIORITY_ZERO,
  toRecord,
} from "./record.js";
import { type AdapterCommands, withCommands } from "./scripts.js";
import { parseBullmqUrl } from "./url.js";

/**
 * What the BullMQ queue can do: every capability of the contract.
 *
 * @example
 * ```ts
 * import { BULLMQ_QUEUE_CAPABILITIES } from "@conveyor/bullmq";
 * if (BULLMQ_QUEUE_CAPABILITIES.cancelActive) console.log("running jobs can be cancelled");
 * ```
 */
export const BULLMQ_QUEUE_CAPABILITIES = Object.freeze({
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
 * Options of {@link createBullmqQueue}.
 *
 * @example
 * ```ts
 * import type { BullmqQueueOptions } from "@conveyor/bullmq";
 * const options: BullmqQueueOptions = { url: "bullmq+redis://localhost:6379/0", prefix: "myapp" };
 * ```
 */
export interface BullmqQueueOptions {
  /**
   * Where Redis is: `bullmq+redis://[[user]:password@]host[:port][/db]`, `bullmq+rediss://…` for
   * TLS (plain `redis://` works too). Ignored when `connection` is given.
   * @defaultValue `"bullmq+redis://127.0.0.1:6379"`
   */
  url?: string;
  /**
   * An ioredis client to use instead of `url` (for Sentinel or Cluster). The adapter duplicates
   * it for the workers and event readers and never closes the client itself.
   * @defaultValue none: the adapter connects to `url`
   */
  connection?: Redis;
  /**
   * BullMQ's key prefix: a job of queue `q` lives at `<prefix>:q:<id>`. On a Redis Cluster use a
   * hash tag, e.g. `{conveyor}`, as BullMQ requires.
   * @defaultValue `"conveyor"`
   */
  prefix?: string;
  /**
   * Approximate bound of each queue's event stream (BullMQ's `streams.events.maxLen`).
   * @defaultValue 10_000
   */
  maxEvents?: number;
  /**
   * How often a worker's BullMQ stalled-job checker runs. A job whose worker died is handed out
   * again after one to two intervals.
   * @defaultValue 30_000
   */
  stalledIntervalMs?: number;
  /**
   * How often one job may stall (its worker died or its lock expired) before BullMQ fails it.
   * @defaultValue 3
   */
  maxStalledCount?: number;
  /**
   * How often a worker checks the cancel flag of the jobs it runs, in case a cancel notice was
   * missed while its connection was down (notices normally arrive at once by pub/sub).
   * @defaultValue 1_000
   */
  cancelPollMs?: number;
  /**
   * How often expired results (their `expiresAt` passed) are deleted while consumers run.
   * Expired jobs are never returned, whether deleted yet or not.
   * @defaultValue 5_000
   */
  sweepIntervalMs?: number;
  /**
   * How long the first connection may take before calls fail.
   * @defaultValue 5_000
   */
  connectTimeoutMs?: number;
  /**
   * Where connection warnings go (lost and regained connections, the persistence check).
   * @defaultValue `consoleLogger()` from `@conveyor/core`
   */
  log?: Logger;
  /**
   * Warn once per server when Redis keeps no data across a restart or may evict keys.
   * @defaultValue true
   */
  checkPersistence?: boolean;
  /**
   * Called with failures that have no caller to throw to (a lost connection in a worker, a
   * throwing event listener). Workers retry by themselves.
   * @defaultValue logs a warning through `log`
   */
  onError?: (error: unknown) => void;
}

const DEFAULTS = {
  url: "bullmq+redis://127.0.0.1:6379",
  prefix: "conveyor",
  maxEvents: 10_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 3,
  cancelPollMs: 1_000,
  sweepIntervalMs: 5_000,
  connectTimeoutMs: 5_000,
  checkPersistence: true,
} satisfies BullmqQueueOptions;

/** BullMQ structures that hold jobs of each Conveyor state. */
const STRUCTURES: Record<JobState, readonly string[]> = {
  waiting: ["wait", "paused", "prioritized"],
  delayed: ["delayed"],
  retrying: ["delayed"],
  active: ["active"],
  completed: ["completed"],
  failed: ["failed"],
  cancelled: ["failed"],
};
const LISTS = new Set(["wait", "paused", "active"]);
/** The get script's keys after the job's hash, in the order of its KEYS: BullMQ's states, then the expiry index. */
const GET_STATE_KEYS = [
  "completed",
  "failed",
  "delayed",
  "active",
  "wait",
  "paused",
  "prioritized",
  "cv:expiring",
] as const;

/** BullMQ builds its keys from queue names and refuses names with ":". */
function checkQueueName(name: string, where: string): void {
  if (name.includes(":")) {
    throw new ValidationError(
      where,
      [
        {
          path: "queue",
          message: `"${name}" cannot be a BullMQ queue name (it contains ":"); choose another name`,
        },
      ],
      {
        scope: "bullmq",
      },
    );
  }
}

function checkIds(jobs: readonly NewJob[]): void {
  const issues: ValidationIssue[] = [];
  jobs.forEach((job, i) => {
    if (job.queue.includes(":")) {
      issues.push({
        path: `${i}.queue`,
        message: `"${job.queue}" cannot be a BullMQ queue name (it contains ":"); choose another name`,
      });
    }
    if (/^\d+$/.test(job.id) || job.id.includes(":")) {
      issues.push({
        path: `${i}.id`,
        message: `"${job.id}" cannot be a BullMQ job id (BullMQ refuses ids that are integers or contain ":"); choose another id`,
      });
    }
    if (!Number.isInteger(job.priority) || job.priority > MAX_PRIORITY || job.priority < MIN_PRIORITY) {
      issues.push({
        path: `${i}.priority`,
        message: `must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} on BullMQ`,
      });
    }
  });
  if (issues.length > 0) throw new ValidationError("the jobs to add", issues, { scope: "bullmq" });
}

/**
 * Creates Conveyor's Queue contract on BullMQ. Each Conveyor queue is a BullMQ queue under
 * `prefix`; a job is a BullMQ job whose name is the task and whose data holds the input. BullMQ
 * claims, locks, delays, prioritises, pauses, recovers stalled jobs and records events; the core
 * runs the handler and decides every outcome. What BullMQ lacks is added next to its keys: the
 * cancelled and retrying states, cancel of a running job from any process (pub/sub plus a polled
 * flag), result TTLs, and Conveyor events carrying the attempt and the error on each queue's
 * BullMQ event stream.
 *
 * @example
 * ```ts
 * import { createBullmqQueue } from "@conveyor/bullmq";
 * import { createConveyor, defineTask } from "@conveyor/core";
 *
 * const hello = defineTask({ name: "demo.hello", run: (input: { name: string }) => `hi ${input.name}` });
 * const conveyor = await createConveyor({
 *   queue: createBullmqQueue({ url: "bullmq+redis://localhost:6379/0" }),
 *   tasks: [hello],
 * });
 * const worker = conveyor.worker({ concurrency: 8 });
 * const job = await conveyor.enqueue(hello, { name: "Ada" });
 * console.log(await job.result({ timeoutMs: 5_000 }));
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export const createBullmqQueue = ((options: BullmqQueueOptions = {}): QueueAdapter & BullmqExtras => {
  const settings = { ...DEFAULTS, ...options };
  if (typeof settings.prefix !== "string" || settings.prefix === "" || settings.prefix.includes(":")) {
    throw new ConfigError(
      `the BullMQ queue option prefix must be a non-empty string without ":", not ${JSON.stringify(settings.prefix)}.`,
      { scope: "bullmq" },
    );
  }
  for (const key of [
    "maxEvents",
    "stalledIntervalMs",
    "maxStalledCount",
    "cancelPollMs",
    "sweepIntervalMs",
  ] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) {
      throw new ConfigError(
        `the BullMQ queue option ${key} must be a positive integer, not ${settings[key]}.`,
        {
          scope: "bullmq",
        },
      );
    }
  }
  const log = settings.log ?? consoleLogger();
  const onError =
    settings.onError ??
    ((error: unknown) =>
      log.warn("[conveyor:bullmq] a background call failed; retrying", {
        error: error instanceof Error ? error.message : String(error),
      }));
  const { prefix, maxEvents } = settings;
  const given = settings.connection;
  const target = given ? undefined : parseBullmqUrl(settings.url).target;
  const masked = target?.masked ?? "(the given client)";
  const own: Redis[] = [];
  const releases: (() => Promise<void>)[] = [];
  const connect = (role: "command" | "worker" | "cancel"): Redis => {
    if (target && role !== "cancel") {
      const lease = acquire(target, role, settings.connectTimeoutMs, log);
      releases.push(lease.release);
      return lease.client;
    }
    const client = given
      ? given.duplicate(role === "command" ? {} : { maxRetriesPerRequest: null })
      : new Redis(clientOptions(target!, role, settings.connectTimeoutMs));
    if (role === "worker") coalesceWrites(client);
    own.push(client);
    watchConnection(client, role, masked, log);
    return client;
  };
  const redis: Redis & AdapterCommands = withCommands(given ?? connect("command"));
  if (settings.checkPersistence && target) {
    const server = `${target.host}:${target.port}`;
    const check = () => void checkPersistence(redis, server, masked, log);
    if (redis.status === "ready") check();
    else redis.once("ready", check);
  }
  let workerClient: (Redis & AdapterCommands) | undefined;
  const workerConnection = () => {
    workerClient ??= withCommands(connect("worker"));
    return workerClient;
  };
  const eventsConnection = given
    ? { ...given.options, maxRetriesPerRequest: null }
    : { ...clientOptions(target!, "events", settings.connectTimeoutMs) };

  const bullQueues = new Map<string, BullQueue>();
  const bull = (name: string): BullQueue => {
    let queue = bullQueues.get(name);
    if (!queue) {
      checkQueueName(name, `the queue "${name}"`);
      queue = new BullQueue(name, { connection: redis, prefix, streams: { events: { maxLen: maxEvents } } });
      queue.on("error", onError);
      bullQueues.set(name, queue);
    }
    return queue;
  };
  const key = (queue: string, suffix: string) => `${prefix}:${queue}:${suffix}`;
  const idsKey = `${prefix}:cv:ids`;
  const queuesKey = `${prefix}:cv:queues`;
  const cancelChannel = `${prefix}:cv:cancel`;
  const queuesChannel = `${prefix}:cv:new-queue`;
  const listenersKey = `${prefix}:cv:listeners`;
  const listenChannel = `${prefix}:cv:listen`;
  const consumers = new Set<BullmqConsumer>();
  // Whether a subscriber is known to listen: set by its notice, kept up to date by the answer of
  // every finish script (see consumer.ts); a stale value costs a late or an unread event, never a lost one.
  let listening = false;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new ClosedError("this BullMQ queue adapter", { scope: "bullmq" });
  };
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    ensureOpen();
    try {
      return await run();
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      throw toBackendError(masked, error);
    }
  };

  /** Asks Redis whether a subscriber listens (the finish script with nothing to write). */
  const refreshListening = async () => {
    const answer = await redis.conveyorBullmqFinish(1, listenersKey, maxEvents);
    listening = answer === 1;
  };

  // One subscriber per adapter: cancel notices for its consumers, new queues for its event hub,
  // new event subscribers for its consumers.
  let subscriber: Promise<void> | undefined;
  const subscriberReady = () => {
    subscriber ??= (async () => {
      const client = connect("cancel");
      client.on("message", (channel: string, message: string) => {
        if (channel === cancelChannel) for (const consumer of consumers) consumer.cancelled(message);
        else if (channel === queuesChannel) hub?.queueCreated(message, Date.now() - 1_000);
        else if (channel === listenChannel) listening = true;
      });
      await client.subscribe(cancelChannel, queuesChannel, listenChannel);
      // After subscribing: a subscriber that registers from now on is told by its notice. Should
      // the question fail, workers start out assuming nobody listens, which costs no event (the
      // finish script writes a left-out one) and must not fail every later call.
      await refreshListening().catch(onError);
    })();
    return subscriber;
  };

  /** Registers `member` as listening for LISTENER_TTL_MS (server time) and tells the workers. */
  const listen = async (member: string) => {
    const now = await serverTimeMs();
    await redis
      .multi()
      .zremrangebyscore(listenersKey, "-inf", now)
      .zadd(listenersKey, now + LISTENER_TTL_MS, member)
      .publish(listenChannel, member)
      .exec();
  };

  const serverTimeMs = async () => {
    const [seconds, micros] = (await redis.time()) as [string | number, string | number];
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  let hub: EventHub | undefined;
  // Back after an outage (Redis may have restarted without the registration): renew it at once.
  const renewListening = () => hub?.renewNow();
  redis.on("ready", renewListening);

  /** The get script's keys (the job's hash, BullMQ's state sets of its queue, cv:expiring) and the id. */
  const getArgs = (queue: string, id: string) =>
    [key(queue, id), ...GET_STATE_KEYS.map((state) => key(queue, state)), id] as const;

  const readJob = async (id: string, includeExpired = false): Promise<JobRecord | undefined> => {
    const queue = await redis.hget(idsKey, id);
    if (queue === null) return undefined;
    const reply = await redis.conveyorBullmqGet(...getArgs(queue, id));
    if (reply.length === 0) return undefined;
    const record = toRecord(id, queue, fieldMap(reply, 2), reply[0]!, reply[1]);
    if (!includeExpired && record?.expiresAt !== undefined && record.expiresAt <= Date.now())
      return undefined;
    return record;
  };

  /** Every job of `queue` in the BullMQ structures that hold `states`, with its Conveyor record. */
  const collect = async (queue: string, states: readonly JobState[]): Promise<JobRecord[]> => {
    const structures = [...new Set(states.flatMap((state) => STRUCTURES[state]))];
    const ranges = redis.pipeline();
    for (const s of structures) {
      if (LISTS.has(s)) ranges.lrange(key(queue, s), 0, -1);
      else ranges.zrange(key(queue, s), "0", "-1");
    }
    const idLists = ((await ranges.exec()) ?? []).map(([error, ids]) => {
      if (error) throw error;
      return ids as string[];
    });
    const entries: [id: string, structure: string][] = [];
    structures.forEach((s, i) => {
      for (const id of idLists[i] ?? []) entries.push([id, s]);
    });
    if (entries.length === 0) return [];
    const hashes = redis.pipeline();
    const expiring = key(queue, "cv:expiring");
    for (const [id] of entries) hashes.hgetall(key(queue, id)).zscore(expiring, id);
    const replies = (await hashes.exec()) ?? [];
    const now = Date.now();
    const wanted = new Set(states);
    const records: JobRecord[] = [];
    entries.forEach(([id, s], i) => {
      const hash = replies[2 * i]?.[1] as Record<string, string> | undefined;
      if (!hash || Object.keys(hash).length === 0) return;
      const record = toRecord(id, queue, hash, s, replies[2 * i + 1]?.[1] as string | null);
      if (!record || !wanted.has(record.state)) return;
      if (record.expiresAt !== undefined && record.expiresAt <= now) return;
      records.push(record);
    });
    return records;
  };

  /**
   * The job whose id another add claimed first. That add may still be on its way to BullMQ (two
   * processes adding one new id at once), so a missing job is looked for again for up to a second
   * before the claim is taken for stale.
   */
  const awaitExisting = async (id: string): Promise<JobRecord | undefined> => {
    for (let tries = 0; ; tries++) {
      const found = await readJob(id, true);
      if (found?.expiresAt !== undefined && found.expiresAt <= Date.now()) {
        // Expired but not swept yet: delete it, so the id can start a new job.
        await removeIds(found.queue, [id]);
        return undefined;
      }
      if (found || tries >= 50) return found;
      if (tries >= 2 && (await redis.hexists(idsKey, id)) === 0) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  /**
   * The `count` newest jobs of `queue` in `states`, walking its creation-time index a page at a
   * time, so a listing reads about as many jobs as it returns when most match.
   */
  const newest = async (queue: string, states: readonly JobState[], count: number): Promise<JobRecord[]> => {
    const wanted = new Set(states);
    const found: JobRecord[] = [];
    const page = Math.min(1_000, Math.max(100, count));
    const stale: string[] = [];
    for (let start = 0; found.length < count; start += page) {
      const ids = await redis.zrevrange(key(queue, "cv:all"), start, start + page - 1);
      if (ids.length === 0) break;
      const reads = redis.pipeline();
      // ioredis defines custom commands on pipelines too; its types only know them on the client.
      const get = reads as unknown as Pick<AdapterCommands, "conveyorBullmqGet">;
      for (const id of ids) {
        get.conveyorBullmqGet(...getArgs(queue, id));
      }
      const replies = (await reads.exec()) ?? [];
      const now = Date.now();
      ids.forEach((id, i) => {
        const [error, reply] = replies[i] ?? [];
        if (error) throw error;
        const flat = reply as string[];
        if (flat.length === 0) {
          stale.push(id);
          return;
        }
        const record = toRecord(id, queue, fieldMap(flat, 2), flat[0]!, flat[1]);
        if (!record || !wanted.has(record.state) || found.length >= count) return;
        if (record.expiresAt !== undefined && record.expiresAt <= now) return;
        found.push(record);
      });
      if (ids.length < page) break;
    }
    // Jobs deleted behind the adapter's back (or by another queue's dedupe) leave the index.
    if (stale.length > 0) await redis.zrem(key(queue, "cv:all"), ...stale);
    return found;
  };

  const knownQueues = async () => (await redis.smembers(queuesKey)).sort();

  /** Deletes `ids` of `queue` through BullMQ (never active ones); returns how many went. */
  const removeIds = async (queue: string, ids: readonly string[]): Promise<number> => {
    if (ids.length === 0) return 0;
    const q = bull(queue);
    const answers = await Promise.all(ids.map((id) => q.remove(id, { removeChildren: false })));
    const gone = ids.filter((_, i) => answers[i] === 1);
    if (gone.length > 0) {
      await redis
        .multi()
        .hdel(idsKey, ...gone)
        .zrem(key(queue, "cv:cancelled"), ...gone)
        .zrem(key(queue, "cv:retrying"), ...gone)
        .zrem(key(queue, "cv:expiring"), ...gone)
        .zrem(key(queue, "cv:all"), ...gone)
        .exec();
    }
    return gone.length;
  };

  const sweep = async (queue: string): Promise<void> => {
    const due = await redis.zrangebyscore(
      key(queue, "cv:expiring"),
      "-inf",
      String(Date.now()),
      "LIMIT",
      0,
      1_000,
    );
    if (due.length > 0) {
      await removeIds(queue, due);
      // An expired job that is gone already (or active again after a retry) leaves the index too.
      await redis.zrem(key(queue, "cv:expiring"), ...due);
    }
  };

  let sweepTimer: NodeJS.Timeout | undefined;
  const consumedQueues = new Set<string>();
  const startSweeping = () => {
    if (sweepTimer) return;
    sweepTimer = setInterval(() => {
      for (const queue of consumedQueues) sweep(queue).catch(onError);
    }, settings.sweepIntervalMs);
    sweepTimer.unref();
  };

  /** BullMQ's job for a Conveyor job: the task as name, the input and Conveyor's fields as data. */
  const toBull = (job: NewJob, now: number) => {
    const data: JobData = {
      i: job.input,
      a: job.maxAttempts,
      c: job.createdAt,
      r: job.runAt,
      p: job.priority,
    };
    if (job.backoff !== undefined) data.b = job.backoff;
    if (job.timeoutMs !== undefined) data.t = job.timeoutMs;
    if (job.meta !== undefined) data.m = job.meta;
    // Only what differs from BullMQ's defaults: every option is stored with the job and parsed
    // again each time a worker takes it. No removeOnComplete / removeOnFail: none keeps every
    // finished job, as the adapter's own Queues and Workers set no default that would drop one.
    const opts: JobsOptions = {
      jobId: job.id,
      timestamp: job.createdAt,
      priority: PRIORITY_ZERO - job.priority,
      attempts: 1,
    };
    if (job.runAt > now) opts.delay = Math.max(1, job.runAt - job.createdAt);
    return { name: job.task, data, opts };
  };

  /** Adds `jobs[i]` for each index to BullMQ, one call per queue. */
  const addToBull = async (
    jobs: readonly NewJob[],
    indexes: Iterable<number>,
    now: number,
  ): Promise<void> => {
    const byQueue = new Map<string, NewJob[]>();
    for (const i of indexes) {
      const job = jobs[i]!;
      const list = byQueue.get(job.queue);
      if (list) list.push(job);
      else byQueue.set(job.queue, [job]);
    }
    const adds: Promise<unknown>[] = [];
    for (const [name, list] of byQueue) {
      // BullMQ's addBulk runs a transaction; a single add is a lot cheaper.
      if (list.length === 1) {
        const one = toBull(list[0]!, now);
        adds.push(bull(name).add(one.name, one.data, one.opts));
      } else adds.push(bull(name).addBulk(list.map((job) => toBull(job, now))));
    }
    await Promise.all(adds);
  };

  const context: ConsumerContext = {
    prefix,
    // A worker's own writes wait out an outage like BullMQ's do: an outcome is never lost to it.
    workerConnection,
    stalledIntervalMs: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
    cancelPollMs: settings.cancelPollMs,
    maxEvents,
    listenersKey,
    listening: () => listening,
    heard: (answer) => {
      listening = answer === 1;
    },
    cancelChannelReady: subscriberReady,
    onError,
    onClosed: (consumer) => consumers.delete(consumer),
  };

  return {
    name: "bullmq",
    capabilities: BULLMQ_QUEUE_CAPABILITIES,

    async add(jobs) {
      ensureOpen();
      checkNewJobs(jobs, "bullmq");
      checkIds(jobs);
      if (jobs.length === 0) return [];
      const now = Date.now();
      const names = [...new Set(jobs.map((job) => job.queue))];
      // One round trip: the claim script (dedupe across queues, the listing index, the queue
      // names) goes out first and BullMQ's adds right behind it on the same connection, so Redis
      // runs the claim first; a job whose id another queue holds meets a placeholder there and
      // BullMQ creates nothing (see claim-n.lua).
      const keys: string[] = [idsKey, queuesKey];
      const args: (string | number)[] = [jobs.length];
      for (const job of jobs) {
        keys.push(key(job.queue, "cv:all"), key(job.queue, job.id));
        args.push(job.id, job.queue, job.createdAt);
      }
      const claiming = redis.conveyorBullmqClaim(keys.length, ...keys, ...args, ...names);
      const [replies] = await call(() => Promise.all([claiming, addToBull(jobs, jobs.keys(), now)]));
      const results: (AddResult | undefined)[] = new Array(jobs.length);
      const placeholders: string[] = [];
      const again: number[] = [];
      for (let i = 0; i < jobs.length; i++) {
        if (replies[i] === 2) placeholders.push(key(jobs[i]!.queue, jobs[i]!.id));
      }
      if (placeholders.length > 0) {
        const cleanup = redis.pipeline();
        for (const placeholder of placeholders) cleanup.hdel(placeholder, "cvp");
        await call(() => cleanup.exec());
      }
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        if (replies[i] === 1) {
          results[i] = { job: createRecord(job, now), created: true };
          continue;
        }
        // The id was taken: by this queue (BullMQ kept the job it has, or created this one if a
        // stale claim had lost it) or by another queue.
        const existing = await call(() => awaitExisting(job.id));
        if (existing) results[i] = { job: existing, created: false };
        else {
          // A stale index entry (a process died between claiming the id and adding the job):
          // add it afresh; BullMQ still keeps one job should that process come back.
          await call(() => redis.hset(idsKey, job.id, job.queue));
          again.push(i);
          results[i] = { job: createRecord(job, now), created: true };
        }
      }
      if (again.length > 0) await call(() => addToBull(jobs, again, now));
      const created = names.filter((_, n) => replies[jobs.length + n] === 1);
      if (created.length > 0) {
        await call(() => Promise.all(created.map((name) => redis.publish(queuesChannel, name))));
      }
      return results as AddResult[];
    },

    consume(consumeOptions, handler) {
      ensureOpen();
      checkConsumeOptions(consumeOptions, "bullmq");
      const { queues, concurrency, workerId, leaseMs = 30_000 } = consumeOptions;
      const unique = [...new Set(queues)];
      for (const queue of unique) checkQueueName(queue, "the queues to consume");
      for (const queue of unique) consumedQueues.add(queue);
      startSweeping();
      const consumer = new BullmqConsumer(
        context,
        unique,
        concurrency,
        workerId,
        Math.round(leaseMs),
        handler,
      );
      consumers.add(consumer);
      return consumer;
    },

    getJob(id) {
      return call(() => readJob(id));
    },

    async listJobs(query: JobQuery = {}) {
      ensureOpen();
      const { offset, limit } = checkJobQuery(query, "bullmq");
      const states = query.states ?? JOB_STATES;
      if (limit === 0 || states.length === 0) return [];
      return call(async () => {
        const queues = query.queue !== undefined ? [query.queue] : await knownQueues();
        const wanted = offset + limit;
        const records = (await Promise.all(queues.map((queue) => newest(queue, states, wanted)))).flat();
        records.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
        return records.slice(offset, offset + limit);
      });
    },

    counts(queue) {
      return call(async () => {
        await sweep(queue);
        const n = await redis.conveyorBullmqCounts(
          key(queue, "wait"),
          key(queue, "paused"),
          key(queue, "prioritized"),
          key(queue, "delayed"),
          key(queue, "active"),
          key(queue, "completed"),
          key(queue, "failed"),
          key(queue, "cv:retrying"),
          key(queue, "cv:cancelled"),
        );
        const counts = {} as JobCounts;
        for (const state of JOB_STATES) counts[state] = 0;
        (["waiting", "delayed", "active", "retrying", "completed", "failed", "cancelled"] as const).forEach(
          (state, i) => {
            counts[state] = Number(n[i] ?? 0);
          },
        );
        return counts;
      });
    },

    queues() {
      return call(async () => {
        const names = await knownQueues();
        const paused = redis.pipeline();
        for (const name of names) paused.hexists(key(name, "meta"), "paused");
        const flags = (await paused.exec()) ?? [];
        return names.map((name, i) => ({ name, paused: flags[i]?.[1] === 1 }));
      });
    },

    retry(id) {
      return call(async () => {
        const record = await readJob(id);
        if (!record || (record.state !== "failed" && record.state !== "cancelled")) return undefined;
        const jobKey = key(record.queue, id);
        await redis
          .multi()
          .hdel(jobKey, FIELD.kind, FIELD.error, FIELD.expiresAt, FIELD.runAt, FIELD.cancel, "progress")
          .zrem(key(record.queue, "cv:cancelled"), id)
          .zrem(key(record.queue, "cv:expiring"), id)
          .exec();
        const job = await Job.fromId(bull(record.queue), id);
        if (!job) return undefined;
        await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
        // Not read back: a worker may already hold it again.
        return compactRecord(retryRecord(record, Date.now()));
      });
    },

    cancel(id, cancelOptions) {
      return call(async () => {
        const queue = await redis.hget(idsKey, id);
        if (queue === null) return "not-found";
        const expiresAt = cancelOptions?.expiresAt;
        const answer = (await redis.conveyorBullmqCancel(
          key(queue, id),
          key(queue, "wait"),
          key(queue, "paused"),
          key(queue, "prioritized"),
          key(queue, "delayed"),
          key(queue, "active"),
          key(queue, "failed"),
          key(queue, "completed"),
          key(queue, "events"),
          key(queue, "meta"),
          key(queue, "cv:cancelled"),
          key(queue, "cv:retrying"),
          key(queue, "cv:expiring"),
          id,
          String(Date.now()),
          expiresAt === undefined ? "" : String(Math.round(expiresAt)),
          cancelChannel,
        )) as CancelResult;
        // A job held in this process is aborted now, not a pub/sub round trip later.
        if (answer === "requested") for (const consumer of consumers) consumer.cancelled(id);
        return answer;
      });
    },

    remove(id) {
      return call(async () => {
        const queue = await redis.hget(idsKey, id);
        if (queue === null) return false;
        return (await removeIds(queue, [id])) === 1;
      });
    },

    async purge(queue, purgeOptions = {}) {
      const { olderThanMs } = purgeOptions;
      if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
        throw new ValidationError(
          "the purge options",
          [{ path: "olderThanMs", message: "must be a non-negative number" }],
          {
            scope: "bullmq",
          },
        );
      }
      const states = (purgeOptions.states ?? JOB_STATES).filter((state) => state !== "active");
      if (states.length === 0) return 0;
      return call(async () => {
        const now = Date.now();
        const records = await collect(queue, states);
        const old = records.filter((record) => {
          if (olderThanMs === undefined) return true;
          const since = record.finishedAt ?? record.createdAt;
          return now - since >= olderThanMs;
        });
        return removeIds(
          queue,
          old.map((record) => record.id),
        );
      });
    },

    pause(queue) {
      return call(async () => {
        await redis.sadd(queuesKey, queue);
        await bull(queue).pause();
      });
    },

    resume(queue) {
      return call(async () => {
        await redis.sadd(queuesKey, queue);
        await bull(queue).resume();
      });
    },

    async subscribe(listener, filter = {}) {
      ensureOpen();
      await call(subscriberReady);
      hub ??= new EventHub({
        prefix,
        connection: eventsConnection,
        knownQueues,
        queueOf: async (id) => (await redis.hget(idsKey, id)) ?? undefined,
        serverTimeMs,
        listen,
        unlisten: (member) => redis.zrem(listenersKey, member),
        onError,
      });
      const current = hub;
      return call(() => current.subscribe(listener, filter));
    },

    metrics(queue, options = {}) {
      return call(async () => {
        const count = options.points ?? 60;
        const [completed, failed] = await Promise.all([
          bull(queue).getMetrics("completed", 0, count - 1),
          bull(queue).getMetrics("failed", 0, count - 1),
        ]);
        return {
          completedPerMinute: completed.data.map(Number),
          failedPerMinute: failed.data.map(Number),
          completedTotal: Number(completed.meta.count ?? 0),
          failedTotal: Number(failed.meta.count ?? 0),
        };
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer) clearInterval(sweepTimer);
      await Promise.all([...consumers].map((consumer) => consumer.close({ drain: false })));
      redis.off("ready", renewListening);
      await hub?.close();
      await Promise.all([...bullQueues.values()].map((queue) => queue.close().catch(() => undefined)));
      await Promise.all([...own.map(closeClient), ...releases.map((release) => release())]);
    },
  };
}) satisfies QueueFactory<BullmqQueueOptions>;

/** Throughput of one queue from BullMQ's metrics, newest minute first. */
export interface BullmqMetrics {
  /** Jobs completed in each of the last minutes, newest first. */
  completedPerMinute: number[];
  /** Jobs failed (or cancelled while running) in each of the last minutes, newest first. */
  failedPerMinute: number[];
  /** Jobs completed since the metrics began. */
  completedTotal: number;
  /** Jobs failed since the metrics began. */
  failedTotal: number;
}

/** What the BullMQ adapter offers beyond the Queue contract. */
export interface BullmqExtras {
  /**
   * Throughput per minute of `queue`, as BullMQ's workers record it (one data point a minute,
   * kept for a week). Only minutes in which a worker of this adapter ran are counted.
   */
  metrics(queue: string, options?: { points?: number }): Promise<BullmqMetrics>;
}
