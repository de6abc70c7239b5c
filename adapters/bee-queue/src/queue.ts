import {
  type AddResult,
  BackendUnavailableError,
  type CancelResult,
  ClosedError,
  ConfigError,
  checkConsumeOptions,
  checkJobQuery,
  checkNewJobs,
  consoleLogger,
  createRecord,
  JOB_STATES,
  type JobCounts,
  type JobQuery,
  type Logger,
  type NewJob,
  type QueueAdapter,
  type QueueCapabilities,
  type QueueFactory,
  UnsupportedFeatureError,
  ValidationError,
} from "@conveyor/core";
import type { RedisClient } from "redis";
import { reloadBeeScripts } from "./bee.js";
import { closeClient, openClient, toBackendError } from "./connection.js";
import { BeeConsumer, type ConsumerContext, WRITE_GRACE_MS } from "./consumer.js";
import { Subscriber } from "./events.js";
import { toRecord } from "./record.js";
import { runScript, type ScriptName } from "./scripts.js";
import { parseBeeQueueUrl } from "./url.js";

/**
 * What the Bee-Queue queue can do. Bee-Queue has no priorities and no pause that holds across
 * processes, so those two are missing (the core refuses them with `UnsupportedFeatureError`);
 * results, errors, progress and cancel of running jobs come from Conveyor's side-store.
 *
 * @example
 * ```ts
 * import { BEE_QUEUE_CAPABILITIES } from "@conveyor/bee-queue";
 * if (!BEE_QUEUE_CAPABILITIES.priority) console.log("jobs run first in, first out");
 * ```
 */
export const BEE_QUEUE_CAPABILITIES = Object.freeze({
  delayed: true,
  priority: false,
  pause: false,
  cancelActive: true,
  events: true,
  progress: true,
  results: true,
  persistent: true,
  shared: true,
} as const satisfies QueueCapabilities);

/**
 * Options of {@link createBeeQueue}.
 *
 * @example
 * ```ts
 * import type { BeeQueueOptions } from "@conveyor/bee-queue";
 * const options: BeeQueueOptions = { url: "redis://localhost:6379/0", prefix: "bq", checkIntervalMs: 1_000 };
 * ```
 */
export interface BeeQueueOptions {
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]` (or `bee-queue+redis://…`),
   * `rediss://…` for TLS. One server: Bee-Queue supports neither Sentinel nor Cluster.
   * @defaultValue `"redis://127.0.0.1:6379"`
   */
  url?: string;
  /**
   * Bee-Queue's key prefix: its keys are `<prefix>:<queue>:…` and Conveyor's side-store lives
   * under `<prefix>:#conveyor:…`. The default is Bee-Queue's own, so Bee-Queue tools see the
   * same queues. Queue names must not start with `#conveyor`.
   * @defaultValue `"bq"`
   */
  prefix?: string;
  /**
   * How often each worker runs Bee-Queue's `checkStalledJobs` (recovering jobs of dead workers),
   * raises due delayed jobs as a safety net under Bee-Queue's own timer, and checks its running
   * jobs for cancels it missed and claims it lost.
   * @defaultValue half the worker's `leaseMs` (Bee-Queue's `stallInterval`), so 15_000
   */
  checkIntervalMs?: number;
  /**
   * Where connection warnings go (lost and regained connections, the persistence check).
   * @defaultValue `consoleLogger()` from `@conveyor/core`
   */
  log?: Logger;
  /**
   * Warn once per server and process when Redis keeps no data across a restart (no AOF and no
   * RDB snapshots) or may evict keys (`maxmemory-policy` other than `noeviction`).
   * @defaultValue true
   */
  checkPersistence?: boolean;
  /**
   * Called with failures that have no caller to throw to (a lost connection in a worker, a
   * throwing event listener, a job added by plain Bee-Queue). Workers retry with backoff by
   * themselves.
   * @defaultValue logs a warning through `log`
   */
  onError?: (error: unknown) => void;
}

const DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  prefix: "bq",
  checkPersistence: true,
} satisfies BeeQueueOptions;

const DEFAULT_LEASE_MS = 30_000;
const BULK_CHUNK = 500;
const RESERVED = "#conveyor";

function jobArgs(job: NewJob, out: (string | number)[]): void {
  if (job.queue.startsWith(RESERVED)) {
    throw new ValidationError(
      `the queue of job ${job.id}`,
      [{ path: "queue", message: `must not start with "${RESERVED}" (Conveyor's side-store lives there)` }],
      { scope: "bee-queue" },
    );
  }
  let input: string;
  try {
    input = job.input === undefined ? "" : (JSON.stringify(job.input) ?? "");
  } catch (error) {
    throw new ValidationError(
      `the input of job ${job.id}`,
      [{ path: "input", message: `cannot be stored as JSON (${String(error)})` }],
      { scope: "bee-queue", cause: error },
    );
  }
  out.push(
    job.id,
    job.queue,
    job.task,
    input,
    job.priority,
    Math.round(job.runAt),
    job.maxAttempts,
    job.backoff ? JSON.stringify(job.backoff) : "",
    job.timeoutMs ?? "",
    Math.round(job.createdAt),
    job.meta ? JSON.stringify(job.meta) : "",
  );
}

/**
 * Creates Conveyor's queue on Bee-Queue. Bee-Queue claims jobs (its blocking BRPOPLPUSH), keeps
 * running ones from stalling, recovers those of dead workers (`checkStalledJobs`, run for you on
 * a timer), requeues retries through its delayed set and raises delayed jobs
 * (`activateDelayedJobs`, on for you). Conveyor adds what Bee-Queue lacks, in a side-store of
 * Redis hashes next to Bee-Queue's keys: the job record readable from any process (state,
 * attempts, result and error with a TTL, progress), dedupe by id across queues, cancel of
 * running jobs across processes, manual retry of dead letters, counts, listing, purge, and
 * lifecycle events published on Bee-Queue's own `events` channels in Bee-Queue's message shape.
 * No priorities and no pause: Bee-Queue has neither.
 *
 * Connections: one command connection per adapter, shared with every Bee-Queue queue it makes;
 * each consumed queue adds Bee-Queue's blocking and delayed-timer connections; event
 * subscriptions and cancel notices share one more.
 *
 * @example
 * ```ts
 * import { createBeeQueue } from "@conveyor/bee-queue";
 *
 * const queue = createBeeQueue({ url: "redis://localhost:6379/0" });
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
export const createBeeQueue = ((options: BeeQueueOptions = {}): QueueAdapter => {
  const settings = { ...DEFAULTS, ...options };
  const { prefix, checkIntervalMs } = settings;
  if (typeof prefix !== "string" || prefix === "" || /[*?[\]\\]/.test(prefix)) {
    throw new ConfigError(
      `the Bee-Queue option prefix must be a non-empty string without *, ?, [, ] or \\, not ${JSON.stringify(prefix)}.`,
      { scope: "bee-queue" },
    );
  }
  if (checkIntervalMs !== undefined && !(Number.isFinite(checkIntervalMs) && checkIntervalMs >= 10)) {
    throw new ConfigError(
      `the Bee-Queue option checkIntervalMs must be a number of at least 10 ms, not ${checkIntervalMs}.`,
      { scope: "bee-queue" },
    );
  }
  const log = settings.log ?? consoleLogger();
  const onError =
    settings.onError ??
    ((error: unknown) =>
      log.warn("[conveyor:bee-queue] a background call failed; retrying with backoff", {
        error: error instanceof Error ? error.message : String(error),
      }));
  const { target } = parseBeeQueueUrl(settings.url);
  const cv = `${prefix}:${RESERVED}:`;
  const bq = `${prefix}:`;
  const consumers = new Set<BeeConsumer>();
  const ownClients = new Set<RedisClient>();
  let closed = false;
  let connectedOnce = false;

  const reload = () => reloadBeeScripts(client);
  const client = openClient(target, {
    log,
    checkPersistence: settings.checkPersistence,
    onReconnect: () => {
      // Redis may have restarted and forgotten every script: Bee-Queue's own need loading again.
      reload().then(
        () => {
          for (const consumer of consumers) consumer.kick();
        },
        (error: unknown) => onError(error),
      );
    },
  });
  // Each Bee-Queue queue listens for errors on the shared connection.
  client.setMaxListeners(0);
  client.once("ready", () => {
    connectedOnce = true;
  });

  const ensureOpen = () => {
    if (closed) throw new ClosedError("this Bee-Queue adapter", { scope: "bee-queue" });
  };

  /** Waits for the first connection (bounded); fails at once while a lost one is being re-made. */
  const connected = (): Promise<void> | undefined => {
    if ((client as { ready?: boolean }).ready) return undefined;
    if (connectedOnce) {
      return Promise.reject(toBackendError(target, new Error("not connected; reconnecting")));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off("ready", ready);
        reject(
          new BackendUnavailableError(
            `Redis at ${target.masked}`,
            `no connection within ${target.connectTimeoutMs} ms`,
            {
              scope: "bee-queue",
              details: { url: target.masked },
            },
          ),
        );
      }, target.connectTimeoutMs);
      const ready = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once("ready", ready);
    });
  };

  const script = async <T>(name: ScriptName, args: readonly (string | number)[]): Promise<T> => {
    ensureOpen();
    try {
      const waiting = connected();
      if (waiting !== undefined) await waiting;
      return await runScript<T>(client, name, [cv, bq, Date.now(), ...args]);
    } catch (error) {
      throw toBackendError(target, error);
    }
  };

  const duplicate = (): RedisClient => {
    const copy = client.duplicate();
    // Outages are reported once, by the command connection.
    copy.on("error", () => {});
    ownClients.add(copy);
    return copy;
  };

  let subscriber: Subscriber | undefined;
  const events = () => {
    subscriber ??= new Subscriber(bq, `${cv}cancel`, duplicate, onError);
    return subscriber;
  };
  let cancelChannel: Promise<void> | undefined;
  const cancelChannelReady = () => {
    cancelChannel ??= events().onCancel((id) => {
      for (const consumer of consumers) consumer.cancelled(id);
    });
    return cancelChannel;
  };

  const context: ConsumerContext = {
    client,
    prefix,
    cv,
    bq,
    cancelChannelReady,
    reloadBeeScripts: reload,
    onError,
    onClosed: (consumer) => consumers.delete(consumer),
  };

  return {
    name: "bee-queue",
    capabilities: BEE_QUEUE_CAPABILITIES,

    async add(jobs) {
      ensureOpen();
      checkNewJobs(jobs, "bee-queue");
      const now = Date.now();
      const chunks: Promise<(1 | string[])[]>[] = [];
      for (let start = 0; start < jobs.length; start += BULK_CHUNK) {
        const args: (string | number)[] = [];
        for (let i = start; i < Math.min(jobs.length, start + BULK_CHUNK); i++) jobArgs(jobs[i]!, args);
        chunks.push(
          (async () => {
            ensureOpen();
            try {
              const waiting = connected();
              if (waiting !== undefined) await waiting;
              return await runScript<(1 | string[])[]>(client, "add-0", [cv, bq, now, ...args]);
            } catch (error) {
              throw toBackendError(target, error);
            }
          })(),
        );
      }
      const replies = (await Promise.all(chunks)).flat();
      return replies.map(
        (reply, i): AddResult =>
          reply === 1
            ? { job: createRecord(jobs[i]!, now), created: true }
            : { job: toRecord(reply), created: false },
      );
    },

    consume(consumeOptions, handler) {
      ensureOpen();
      checkConsumeOptions(consumeOptions, "bee-queue");
      const leaseMs = Math.round(consumeOptions.leaseMs ?? DEFAULT_LEASE_MS);
      if (leaseMs < 100) {
        throw new ConfigError(`consume needs \`leaseMs\` of at least 100, not ${leaseMs}.`, {
          scope: "bee-queue",
        });
      }
      const reserved = consumeOptions.queues.find((queue) => queue.startsWith(RESERVED));
      if (reserved !== undefined) {
        throw new ConfigError(
          `the queue name "${reserved}" is reserved for Conveyor's side-store; pick another.`,
          {
            scope: "bee-queue",
          },
        );
      }
      const consumer = new BeeConsumer(
        context,
        {
          queues: [...new Set(consumeOptions.queues)],
          concurrency: consumeOptions.concurrency,
          workerId: consumeOptions.workerId,
          leaseMs,
          checkIntervalMs: Math.round(checkIntervalMs ?? leaseMs / 2),
        },
        handler,
      );
      consumers.add(consumer);
      return consumer;
    },

    async getJob(id) {
      ensureOpen();
      let flat: Record<string, string> | null;
      try {
        const waiting = connected();
        if (waiting !== undefined) await waiting;
        flat = await new Promise<Record<string, string> | null>((resolve, reject) =>
          client.hgetall(`${cv}j:${id}`, (error, reply) => (error ? reject(error) : resolve(reply))),
        );
      } catch (error) {
        throw toBackendError(target, error);
      }
      if (flat === null || flat.state === undefined) return undefined;
      const record = toRecord(Object.entries(flat).flat());
      if (record.expiresAt !== undefined && record.expiresAt <= Date.now()) return undefined;
      return record;
    },

    async listJobs(query: JobQuery = {}) {
      ensureOpen();
      const { offset, limit } = checkJobQuery(query, "bee-queue");
      if (limit === 0 || query.states?.length === 0) return [];
      const found = await script<string[][]>("list-0", [
        query.queue ?? "",
        offset,
        limit,
        ...(query.states ?? []),
      ]);
      return found.map(toRecord);
    },

    async counts(queue) {
      const numbers = await script<number[]>("counts-0", [queue, ...JOB_STATES]);
      const counts = {} as JobCounts;
      JOB_STATES.forEach((state, i) => {
        counts[state] = Number(numbers[i] ?? 0);
      });
      return counts;
    },

    async queues() {
      ensureOpen();
      let names: string[];
      try {
        const waiting = connected();
        if (waiting !== undefined) await waiting;
        names = await new Promise<string[]>((resolve, reject) =>
          client.smembers(`${cv}queues`, (error, reply) => (error ? reject(error) : resolve(reply))),
        );
      } catch (error) {
        throw toBackendError(target, error);
      }
      return names.sort().map((name) => ({ name, paused: false }));
    },

    async retry(id) {
      const flat = await script<string[] | null>("retry-0", [id]);
      return flat ? toRecord(flat) : undefined;
    },

    async cancel(id, cancelOptions) {
      const expiresAt = cancelOptions?.expiresAt;
      const answer = await script<CancelResult>("cancel-0", [
        id,
        expiresAt === undefined ? "" : Math.round(expiresAt),
      ]);
      // A job held in this process is aborted before the answer, not a pub/sub round trip later.
      if (answer === "requested") for (const consumer of consumers) consumer.cancelled(id);
      return answer;
    },

    async remove(id) {
      return (await script<number>("remove-0", [id])) === 1;
    },

    async purge(queue, purgeOptions = {}) {
      const { olderThanMs } = purgeOptions;
      if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
        throw new ValidationError(
          "the purge options",
          [{ path: "olderThanMs", message: "must be a non-negative number" }],
          {
            scope: "bee-queue",
          },
        );
      }
      const states = (purgeOptions.states ?? JOB_STATES).filter((state) => state !== "active");
      if (states.length === 0) return 0;
      return script<number>("purge-0", [queue, olderThanMs ?? "", ...states]);
    },

    async pause() {
      throw new UnsupportedFeatureError("bee-queue", "pausing queues (Bee-Queue has no cross-process pause)");
    },

    async resume() {
      throw new UnsupportedFeatureError("bee-queue", "pausing queues (Bee-Queue has no cross-process pause)");
    },

    async subscribe(listener, filter = {}) {
      ensureOpen();
      try {
        return await events().subscribe(listener, filter);
      } catch (error) {
        throw toBackendError(target, error);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      const closing = Promise.all([...consumers].map((consumer) => consumer.close({ drain: false })));
      // While Redis is away, Bee-Queue's last commands wait in the shared connection's offline
      // queue; past the consumers' grace, ending the connection fails them and lets close finish.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, WRITE_GRACE_MS + 1_000);
      });
      await Promise.race([closing, grace]);
      clearTimeout(timer);
      if (!client.connected) client.end(true);
      await closing;
      subscriber?.close();
      for (const copy of ownClients) copy.end(true);
      ownClients.clear();
      await closeClient(client);
      client.removeAllListeners();
      // A late socket error after closing must not crash the process as an unhandled 'error' event.
      client.on("error", () => {});
    },
  };
}) satisfies QueueFactory<BeeQueueOptions>;
