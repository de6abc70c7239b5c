import BeeQueue from "bee-queue";
import { type RedisBenchSystem, type RedisJobInput, Runs, Seen } from "./redis-system.js";
import { cpuSince, paced } from "./system.js";

function open(round: { host: string; port: number; name: string }, worker: boolean, getEvents = false) {
  // Bee-Queue's defaults, except that only a producer that listens subscribes to its events.
  return new BeeQueue<RedisJobInput>(round.name, {
    redis: { host: round.host, port: round.port },
    isWorker: worker,
    getEvents,
  });
}

/** Bare Bee-Queue with its defaults: `saveAll` in chunks, `createJob().save()`, `process`. */
export const beeQueueSystem: RedisBenchSystem = {
  label: "Bee-Queue",

  async throughput(round, { inputs, chunk, concurrency }) {
    const producer = open(round, false);
    const worker = open(round, true);
    const runs = new Runs(
      inputs.length,
      this.label,
      async () => (await producer.checkHealth()).succeeded === inputs.length,
    );
    worker.on("failed", (_job, error) => runs.fail(error));
    try {
      await Promise.all([producer.ready(), worker.ready()]);
      const batches: BeeQueue.Job<RedisJobInput>[][] = [];
      for (let from = 0; from < inputs.length; from += chunk) {
        batches.push(inputs.slice(from, from + chunk).map((data) => producer.createJob(data)));
      }
      const start = performance.now();
      for (const batch of batches) {
        const errors = await producer.saveAll(batch);
        if (errors.size > 0) throw [...errors.values()][0];
      }
      const added = performance.now();
      const cpu = process.cpuUsage();
      worker.process(concurrency, async () => {
        runs.ran();
        return null;
      });
      await runs.done;
      const end = performance.now();
      return { addMs: added - start, processMs: end - added, processCpuUs: cpuSince(cpu) };
    } finally {
      await worker.close();
      await producer.close();
    }
  },

  async latency(round, { inputs, concurrency, ratePerSecond }) {
    const producer = open(round, false, true);
    const worker = open(round, true);
    const started = new Float64Array(inputs.length);
    const seen = new Seen(inputs.length, this.label);
    // Completion as the producer sees it: Bee-Queue's pub/sub events.
    producer.on("job succeeded", (jobId) => seen.completedId(String(jobId)));
    worker.on("failed", (_job, error) => seen.fail(error));
    try {
      await Promise.all([producer.ready(), worker.ready()]);
      worker.process(concurrency, async () => null);
      const fail = (error: Error) => seen.fail(error);
      await paced(inputs.length, ratePerSecond, (i) => {
        started[i] = performance.now();
        producer
          .createJob(inputs[i]!)
          .save()
          .then((job) => seen.added(String(job.id), i), fail);
      });
      await seen.done;
      return { started, ended: seen.ended };
    } finally {
      await worker.close();
      await producer.close();
    }
  },
};
