import {
  ClosedError,
  ConfigError,
  checkConsumeOptions,
  checkJobQuery,
  checkNewJobs,
  type JobQuery,
  type QueueAdapter,
  type QueueCapabilities,
  type QueueFactory,
  ValidationError,
} from "@conveyor/core";
import { DiskConsumer } from "./consumer.js";
import { backendError, type Durability, openDatabase } from "./database.js";
import { EventTail, type Subscription } from "./events.js";
import { encodeOrReject } from "./json.js";
import {
  checkParams,
  checkPositiveInteger,
  type DiskLocation,
  numberParam,
  resolveLocation,
  storeFile,
} from "./location.js";
import { notify, notifyCancel } from "./notifier.js";
import { type PreparedJob, QueueStore } from "./queue-store.js";
import { createDiskScheduleStore } from "./schedules.js";
import { QUEUE_MIGRATIONS } from "./schema.js";

/**
 * What the disk queue can do: everything, across every process on the machine that opens the
 * same folder, and surviving a restart of all of them.
 *
 * @example
 * ```ts
 * import { DISK_QUEUE_CAPABILITIES } from "@conveyor/disk";
 * if (DISK_QUEUE_CAPABILITIES.shared) console.log("workers in other processes see these jobs");
 * ```
 */
export const DISK_QUEUE_CAPABILITIES = Object.freeze({
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
 * Options of {@link createDiskQueue}: where the store lives (`path` or `url`) and how it behaves.
 *
 * @example
 * ```ts
 * import type { DiskQueueOptions } from "@conveyor/disk";
 * const options: DiskQueueOptions = { path: "./.conveyor", durability: "full", leaseMs: 60_000 };
 * ```
 */
export interface DiskQueueOptions extends DiskLocation {
  /**
   * How hard a commit is pushed to the disk. `"normal"` (SQLite `synchronous=NORMAL` in WAL mode):
   * a crashed or killed process loses nothing it committed, a power cut or OS crash may lose the
   * last commits. `"full"` (`synchronous=FULL`): every commit is fsynced and survives a power cut.
   * @defaultValue "normal"
   */
  durability?: Durability;
  /**
   * How long a claim stays valid without renewal; a consumer renews its leases every third of it.
   * A job whose worker died (kill -9, power cut) runs again elsewhere once it has passed. A
   * worker's own `leaseMs` (ConsumeOptions) wins over this.
   * @defaultValue 30_000
   */
  leaseMs?: number;
  /**
   * Longest pause, in ms, between two polls of an idle consumer or event subscriber; the first
   * poll after work comes after `minPollMs`, and each idle poll doubles the pause up to this.
   * @defaultValue 50
   */
  pollIntervalMs?: number;
  /**
   * Shortest pause, in ms, between two polls (see `pollIntervalMs`).
   * @defaultValue 5
   */
  minPollMs?: number;
  /**
   * How long a write waits for another process's transaction before it fails with a
   * `BackendUnavailableError`.
   * @defaultValue 5_000
   */
  busyTimeoutMs?: number;
  /**
   * How long lifecycle events are kept for subscribers in other processes to read.
   * @defaultValue 300_000
   */
  eventRetentionMs?: number;
  /**
   * Most lifecycle events kept; older ones are pruned first.
   * @defaultValue 100_000
   */
  maxEvents?: number;
  /**
   * Called with what an event listener threw (listeners must not throw, and one that does never
   * disturbs the queue or other listeners) and with failures of the background loops (a database
   * locked past `busyTimeoutMs`, a full disk), which they retry.
   * @defaultValue emits a process warning
   */
  onError?: (error: unknown) => void;
}

function warn(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)));
}

const DEFAULTS = {
  durability: "normal",
  leaseMs: 30_000,
  pollIntervalMs: 50,
  minPollMs: 5,
  busyTimeoutMs: 5_000,
  eventRetentionMs: 300_000,
  maxEvents: 100_000,
  onError: warn,
} satisfies Omit<DiskQueueOptions, keyof DiskLocation>;

/** The query options a queue URL may carry. */
export const QUEUE_URL_OPTIONS = [
  "durability",
  "leaseMs",
  "pollIntervalMs",
  "minPollMs",
  "busyTimeoutMs",
  "eventRetentionMs",
  "maxEvents",
] as const;

// Finished jobs and events are swept this often; reads hide expired jobs in between.
const HOUSEKEEPING_MS = 1_000;
const PRUNE_BATCH = 10_000;

/** Options from a URL's query string (they lose to options given in code). */
export function queueOptionsFromUrl(params: URLSearchParams, url: string): Partial<DiskQueueOptions> {
  checkParams(params, QUEUE_URL_OPTIONS, url, "queue");
  const options: Partial<DiskQueueOptions> = {};
  const durability = params.get("durability");
  if (durability !== null) options.durability = durability as Durability;
  for (const key of [
    "leaseMs",
    "pollIntervalMs",
    "minPollMs",
    "busyTimeoutMs",
    "eventRetentionMs",
    "maxEvents",
  ] as const) {
    const value = numberParam(params, key, url, "integer");
    if (value !== undefined) options[key] = value;
  }
  return options;
}

export function checkDurability(durability: unknown, what: string): void {
  if (durability !== "normal" && durability !== "full") {
    throw new ConfigError(
      `the disk ${what} option durability must be "normal" or "full", not ${JSON.stringify(durability)}.`,
      {
        scope: "disk",
      },
    );
  }
}

/**
 * Creates a persistent queue in one SQLite file (`<folder>/queue.sqlite`, WAL mode) that every
 * process on the machine opening the same folder shares: a producer, several workers, a CLI.
 * Claims are atomic and leased; a worker that dies loses its leases and its jobs run again on
 * another worker (event `stalled`). Events, progress, results and cancels cross processes. The
 * file is opened on first use.
 *
 * @example
 * ```ts
 * import { createDiskQueue } from "@conveyor/disk";
 *
 * const queue = createDiskQueue({ path: "./.conveyor" });
 * await queue.add([
 *   { id: "job-1", queue: "default", task: "demo.echo", input: { text: "hi" },
 *     priority: 0, runAt: Date.now(), createdAt: Date.now(), maxAttempts: 1 },
 * ]);
 * const consumer = queue.consume({ queues: ["default"], concurrency: 4, workerId: "w1" }, async (job) => ({
 *   type: "completed",
 *   result: job.record.input,
 * }));
 * await consumer.close({ drain: true });
 * await queue.close();
 * ```
 */
export const createDiskQueue = ((options: DiskQueueOptions): QueueAdapter => {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError("createDiskQueue needs options: { path } or { url }.", { scope: "disk" });
  }
  const { folder, params } = resolveLocation(options, "queue");
  const fromUrl = options.url !== undefined ? queueOptionsFromUrl(params, options.url) : {};
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings = { ...DEFAULTS, ...fromUrl, ...defined } as typeof DEFAULTS & DiskLocation;
  checkDurability(settings.durability, "queue");
  checkPositiveInteger(settings.leaseMs, "leaseMs", "queue", 10);
  checkPositiveInteger(settings.pollIntervalMs, "pollIntervalMs", "queue");
  checkPositiveInteger(settings.minPollMs, "minPollMs", "queue");
  checkPositiveInteger(settings.busyTimeoutMs, "busyTimeoutMs", "queue", 0);
  checkPositiveInteger(settings.eventRetentionMs, "eventRetentionMs", "queue");
  checkPositiveInteger(settings.maxEvents, "maxEvents", "queue");
  if (typeof settings.onError !== "function") {
    throw new ConfigError("the disk queue option onError must be a function.", { scope: "disk" });
  }
  const file = storeFile(folder, "queue");
  const poll = {
    minPollMs: Math.min(settings.minPollMs, settings.pollIntervalMs),
    maxPollMs: settings.pollIntervalMs,
  };
  const onError = settings.onError;

  let store: QueueStore | undefined;
  let tail: EventTail | undefined;
  let housekeeping: ReturnType<typeof setInterval> | undefined;
  const consumers = new Set<DiskConsumer>();
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const tidy = (): void => {
    if (store === undefined) return;
    const s = store;
    const now = Date.now();
    try {
      if (s.hasExpired(now)) s.write(() => s.sweepExpired(now));
      const cutoff = now - settings.eventRetentionMs;
      const bound = s.pruneBound(cutoff, settings.maxEvents, PRUNE_BATCH);
      if (bound !== undefined) s.write(() => s.pruneEvents(bound, cutoff));
    } catch (error) {
      onError(backendError(error, file));
    }
  };

  /** The store, opened on first use; throws ClosedError after close. */
  const open = (): QueueStore => {
    if (closed) throw new ClosedError("this disk queue adapter", { scope: "disk" });
    if (store === undefined) {
      store = new QueueStore(
        openDatabase({
          file,
          durability: settings.durability,
          busyTimeoutMs: settings.busyTimeoutMs,
          migrations: QUEUE_MIGRATIONS,
          what: "queue",
        }),
      );
      housekeeping = setInterval(tidy, HOUSEKEEPING_MS);
      housekeeping.unref();
    }
    return store;
  };

  /** Runs a write transaction and wakes this process's consumers and subscribers. */
  const write = <T>(fn: (s: QueueStore) => T): T => {
    const s = open();
    let result: T;
    try {
      result = s.write(() => fn(s));
    } catch (error) {
      throw backendError(error, file);
    }
    notify(file);
    return result;
  };

  const read = <T>(fn: (s: QueueStore) => T): T => {
    const s = open();
    try {
      return fn(s);
    } catch (error) {
      throw backendError(error, file);
    }
  };

  return {
    name: "disk",
    capabilities: DISK_QUEUE_CAPABILITIES,
    schedules: createDiskScheduleStore(file, () => open().db),

    async add(jobs) {
      open();
      if (!Array.isArray(jobs)) {
        throw new ValidationError("the jobs to add", [{ path: "", message: "must be an array" }], {
          scope: "disk",
        });
      }
      checkNewJobs(jobs, "disk");
      // Encode every job before storing any, so a refused input leaves the store unchanged.
      const prepared = jobs.map(
        (job): PreparedJob => ({
          job,
          input: encodeOrReject(job.input, `the input of job ${job.id}`),
          backoff: job.backoff === undefined ? null : JSON.stringify(job.backoff),
          meta: job.meta === undefined ? null : encodeOrReject(job.meta, `the meta of job ${job.id}`),
        }),
      );
      if (prepared.length === 0) return [];
      return write((s) => s.add(prepared, Date.now()));
    },

    consume(consumeOptions, handler) {
      const s = open();
      checkConsumeOptions(consumeOptions, "disk");
      const { queues, concurrency, workerId } = consumeOptions;
      const leaseMs = Math.max(10, consumeOptions.leaseMs ?? settings.leaseMs);
      const consumer = new DiskConsumer(
        { store: s, file, poll, onError },
        [...new Set(queues)],
        concurrency,
        workerId,
        leaseMs,
        handler,
        (c) => consumers.delete(c),
      );
      consumers.add(consumer);
      return consumer;
    },

    async getJob(id) {
      return read((s) => s.get(id, Date.now()));
    },

    async listJobs(query: JobQuery = {}) {
      const { offset, limit } = checkJobQuery(query, "disk");
      return read((s) => s.list(query, offset, limit, Date.now()));
    },

    async counts(queue) {
      return read((s) => s.counts(queue, Date.now()));
    },

    async queues() {
      return read((s) => s.queueInfos());
    },

    async retry(id) {
      return write((s) => s.retry(id, Date.now()));
    },

    async cancel(id, cancelOptions) {
      const answer = write((s) => s.cancel(id, Date.now(), cancelOptions?.expiresAt));
      if (answer === "requested") notifyCancel(file, id);
      return answer;
    },

    async remove(id) {
      return write((s) => s.remove(id, Date.now()));
    },

    async purge(queue, purgeOptions = {}) {
      const { olderThanMs } = purgeOptions;
      if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
        throw new ValidationError(
          "the purge options",
          [{ path: "olderThanMs", message: "must be a non-negative number" }],
          {
            scope: "disk",
          },
        );
      }
      return write((s) => s.purge(queue, purgeOptions, Date.now()));
    },

    async pause(queue) {
      write((s) => s.setPaused(queue, true));
    },

    async resume(queue) {
      write((s) => s.setPaused(queue, false));
    },

    async subscribe(listener, filter = {}) {
      const s = open();
      tail ??= new EventTail(s, file, poll, onError);
      const t = tail;
      const subscription = read(() => t.subscribe(listener, filter));
      subscriptions.add(subscription);
      return async () => {
        if (!subscriptions.delete(subscription)) return;
        t.unsubscribe(subscription);
      };
    },

    async close() {
      if (closed) return;
      // Consumers still open are closed without draining: their jobs go back to waiting for
      // whoever else shares the folder.
      const errors: unknown[] = [];
      for (const consumer of [...consumers]) {
        await consumer.close({ drain: false }).catch((error: unknown) => errors.push(error));
      }
      closed = true;
      tail?.stop();
      subscriptions.clear();
      if (housekeeping !== undefined) clearInterval(housekeeping);
      store?.db.close();
      store = undefined;
      if (errors.length > 0) throw errors[0];
    },
  };
}) satisfies QueueFactory<DiskQueueOptions>;
