import {
  ClosedError,
  ConfigError,
  checkConsumeOptions,
  checkJobQuery,
  checkNewJobs,
  type JobQuery,
  type NewJob,
  type QueueAdapter,
  type QueueCapabilities,
  type QueueFactory,
  ValidationError,
} from "@conveyor/core";
import { MemoryConsumer } from "./consumer.js";
import { copyOrReject } from "./copy.js";
import { QueueStore, type Subscription } from "./queue-store.js";
import { copyRecord, snapshotRecord } from "./record.js";
import { joinStore, leaveStore } from "./registry.js";
import { joinScheduleStore } from "./schedules.js";

/**
 * What the memory queue can do: everything but surviving a restart and reaching other
 * processes.
 *
 * @example
 * ```ts
 * import { MEMORY_QUEUE_CAPABILITIES } from "@conveyor/memory";
 * if (!MEMORY_QUEUE_CAPABILITIES.persistent) console.log("jobs are lost when the process exits");
 * ```
 */
export const MEMORY_QUEUE_CAPABILITIES = Object.freeze({
  delayed: true,
  priority: true,
  pause: true,
  cancelActive: true,
  events: true,
  progress: true,
  results: true,
  persistent: false,
  shared: false,
} as const satisfies QueueCapabilities);

/**
 * Options of {@link createMemoryQueue}.
 *
 * @example
 * ```ts
 * import type { MemoryQueueOptions } from "@conveyor/memory";
 * const options: MemoryQueueOptions = { store: "app" };
 * ```
 */
export interface MemoryQueueOptions {
  /**
   * Name of a store shared in this process: queues created with the same name see the same
   * jobs (`memory://app` gives `"app"`). The store lives while at least one of them is open.
   * @defaultValue a fresh private store
   */
  store?: string;
  /**
   * Called with what an event listener threw (listeners must not throw, and one that does
   * never disturbs the queue or other listeners) and with unexpected internal failures.
   * @defaultValue emits a process warning
   */
  onError?: (error: unknown) => void;
}

function warn(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)));
}

const DEFAULTS = {
  store: undefined,
  onError: warn,
} satisfies MemoryQueueOptions;

/**
 * Creates an in-process queue: jobs live in this process's memory, are claimed in the core's
 * ready order (priority, then `runAt`, then age) and survive nothing. The embedded default
 * behind `memory://`; also the fastest backend for tests and single-process apps.
 *
 * Queues created with the same {@link MemoryQueueOptions.store} name share their jobs, so an app
 * and a worker in one process can talk through `memory://name`.
 *
 * @example
 * ```ts
 * import { createMemoryQueue } from "@conveyor/memory";
 *
 * const queue = createMemoryQueue({ store: "app" });
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
export const createMemoryQueue = ((options: MemoryQueueOptions = {}): QueueAdapter => {
  const settings = { ...DEFAULTS, ...options };
  if (settings.store !== undefined && typeof settings.store !== "string") {
    throw new ConfigError(
      "the memory queue option `store` must be a string. Pass a store name or leave it out.",
      {
        scope: "memory",
      },
    );
  }
  const storeName = settings.store;
  const store = joinStore("queue", storeName, () => new QueueStore());
  const schedules = joinScheduleStore(storeName);
  const consumers = new Set<MemoryConsumer>();
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new ClosedError("this memory queue adapter", { scope: "memory" });
  };

  return {
    name: "memory",
    capabilities: MEMORY_QUEUE_CAPABILITIES,
    schedules: schedules.store,

    async add(jobs) {
      ensureOpen();
      checkNewJobs(jobs, "memory");
      const copies = jobs.map(
        (job): NewJob => ({
          id: job.id,
          queue: job.queue,
          task: job.task,
          input: copyOrReject(job.input, `the input of job ${job.id}`, "memory"),
          priority: job.priority,
          runAt: job.runAt,
          maxAttempts: job.maxAttempts,
          backoff: job.backoff ? { ...job.backoff } : undefined,
          timeoutMs: job.timeoutMs,
          createdAt: job.createdAt,
          meta: job.meta ? { ...job.meta } : undefined,
        }),
      );
      return store.add(copies).map(({ job, created }) => ({ job: snapshotRecord(job), created }));
    },

    consume(consumeOptions, handler) {
      ensureOpen();
      checkConsumeOptions(consumeOptions, "memory");
      const { queues, concurrency, workerId } = consumeOptions;
      const states = [...new Set(queues)].map((name) => store.queue(name));
      const consumer = new MemoryConsumer(
        store,
        states,
        concurrency,
        workerId,
        handler,
        settings.onError,
        (c) => consumers.delete(c),
      );
      consumers.add(consumer);
      return consumer;
    },

    async getJob(id) {
      ensureOpen();
      const record = store.get(id);
      return record === undefined ? undefined : copyRecord(record);
    },

    async listJobs(query: JobQuery = {}) {
      ensureOpen();
      const { offset, limit } = checkJobQuery(query, "memory");
      return store.list(query, offset, limit).map((record) => copyRecord(record));
    },

    async counts(queue) {
      ensureOpen();
      return store.counts(queue);
    },

    async queues() {
      ensureOpen();
      return store.queueInfos();
    },

    async retry(id) {
      ensureOpen();
      const record = store.retry(id);
      return record === undefined ? undefined : copyRecord(record);
    },

    async cancel(id, options) {
      ensureOpen();
      return store.cancel(id, options?.expiresAt);
    },

    async remove(id) {
      ensureOpen();
      return store.remove(id);
    },

    async purge(queue, purgeOptions = {}) {
      ensureOpen();
      const { olderThanMs } = purgeOptions;
      if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
        throw new ValidationError(
          "the purge options",
          [{ path: "olderThanMs", message: "must be a non-negative number" }],
          {
            scope: "memory",
          },
        );
      }
      return store.purge(queue, purgeOptions);
    },

    async pause(queue) {
      ensureOpen();
      store.pause(queue);
    },

    async resume(queue) {
      ensureOpen();
      store.resume(queue);
    },

    async subscribe(listener, filter = {}) {
      ensureOpen();
      const subscription = store.subscribe(listener, filter, settings.onError);
      subscriptions.add(subscription);
      return async () => {
        subscriptions.delete(subscription);
        store.unsubscribe(subscription);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      // The contract asks callers to close consumers first; one left open is closed without
      // draining, which hands its jobs back to waiting for whoever else shares the store.
      for (const consumer of [...consumers]) await consumer.close({ drain: false });
      for (const subscription of subscriptions) store.unsubscribe(subscription);
      subscriptions.clear();
      leaveStore("queue", storeName, store);
      schedules.leave();
    },
  };
}) satisfies QueueFactory<MemoryQueueOptions>;
