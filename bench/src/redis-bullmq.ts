import { Queue, QueueEvents, Worker } from "bullmq";
import { type RedisBenchSystem, type RedisJobInput, Runs, Seen } from "./redis-system.js";
import { cpuSince, paced } from "./system.js";

/** Bare BullMQ with its defaults: `Queue.addBulk` in chunks, `Queue.add`, one `Worker`. */
export const bullmqSystem: RedisBenchSystem = {
  label: "BullMQ",

  async throughput(round, { inputs, chunk, concurrency }) {
    const connection = { host: round.host, port: round.port };
    const queue = new Queue<RedisJobInput>(round.name, { connection });
    const batches = [];
    for (let from = 0; from < inputs.length; from += chunk) {
      batches.push(inputs.slice(from, from + chunk).map((data) => ({ name: "noop", data })));
    }
    const runs = new Runs(
      inputs.length,
      this.label,
      async () => (await queue.getCompletedCount()) === inputs.length,
    );
    let worker: Worker | undefined;
    try {
      await queue.waitUntilReady();
      const start = performance.now();
      for (const batch of batches) await queue.addBulk(batch);
      const added = performance.now();
      const cpu = process.cpuUsage();
      worker = new Worker(
        round.name,
        async () => {
          runs.ran();
          return null;
        },
        { connection: { ...connection, maxRetriesPerRequest: null }, concurrency },
      );
      worker.on("failed", (_job, error) => runs.fail(error));
      await runs.done;
      const end = performance.now();
      return { addMs: added - start, processMs: end - added, processCpuUs: cpuSince(cpu) };
    } finally {
      await worker?.close();
      await queue.close();
    }
  },

  async latency(round, { inputs, concurrency, ratePerSecond }) {
    const connection = { host: round.host, port: round.port };
    const queue = new Queue<RedisJobInput>(round.name, { connection });
    const events = new QueueEvents(round.name, { connection: { ...connection, maxRetriesPerRequest: null } });
    const started = new Float64Array(inputs.length);
    const seen = new Seen(inputs.length, this.label);
    const worker = new Worker<RedisJobInput>(round.name, async () => null, {
      connection: { ...connection, maxRetriesPerRequest: null },
      concurrency,
    });
    // Completion as the producer sees it: QueueEvents reads BullMQ's event stream.
    events.on("completed", ({ jobId }) => seen.completedId(jobId));
    worker.on("failed", (_job, error) => seen.fail(error));
    try {
      await Promise.all([queue.waitUntilReady(), worker.waitUntilReady(), events.waitUntilReady()]);
      const fail = (error: Error) => seen.fail(error);
      await paced(inputs.length, ratePerSecond, (i) => {
        started[i] = performance.now();
        queue.add("noop", inputs[i]!).then((job) => seen.added(job.id!, i), fail);
      });
      await seen.done;
      return { started, ended: seen.ended };
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
    }
  },
};
