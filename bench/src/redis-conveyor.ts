import { type BulkItem, type Conveyor, createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisBenchSystem, type RedisJobInput, type RedisRound, Runs, Seen } from "./redis-system.js";
import { cpuSince, paced } from "./system.js";

let onRun: (input: RedisJobInput) => void = () => {};
const task = defineTask({
  name: "bench.noop",
  run: (input: RedisJobInput) => {
    onRun(input);
    return null;
  },
});

/** The whole platform, as an application runs it: core runtime + the raw Redis queue. */
async function open(round: RedisRound): Promise<Conveyor> {
  return createConveyor({
    // The cache and limiter are not on the job path of a task that uses neither.
    queue: createRedisQueue({
      url: round.url,
      prefix: round.name,
      log: silentLogger,
      checkPersistence: false,
    }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [task],
    logger: false,
    env: false,
  });
}

/** Conveyor (core + `@conveyor/redis` queue): `enqueueMany` in chunks, `enqueue`, one worker. */
export const conveyorRedisSystem: RedisBenchSystem = {
  label: "Conveyor redis",

  async throughput(round, { inputs, chunk, concurrency }) {
    const conveyor = await open(round);
    const batches: BulkItem<RedisJobInput>[][] = [];
    for (let from = 0; from < inputs.length; from += chunk) {
      batches.push(inputs.slice(from, from + chunk).map((input) => ({ input })));
    }
    const runs = new Runs(
      inputs.length,
      this.label,
      async () => (await conveyor.counts("default")).completed === inputs.length,
    );
    onRun = () => runs.ran();
    try {
      const start = performance.now();
      for (const batch of batches) await conveyor.enqueueMany(task, batch);
      const added = performance.now();
      const cpu = process.cpuUsage();
      conveyor.worker({ concurrency });
      await runs.done;
      const end = performance.now();
      return { addMs: added - start, processMs: end - added, processCpuUs: cpuSince(cpu) };
    } finally {
      onRun = () => {};
      await conveyor.close();
    }
  },

  async latency(round, { inputs, concurrency, ratePerSecond }) {
    const conveyor = await open(round);
    const started = new Float64Array(inputs.length);
    const seen = new Seen(inputs.length, this.label);
    // Completion as the producer sees it (and `job.result()` waits for it): the `completed`
    // event, written to the Redis stream with the outcome.
    const unsubscribe = await conveyor.queue.subscribe(
      (event) => {
        if (event.type === "completed") seen.completedId(event.jobId);
      },
      { queue: "default" },
    );
    try {
      conveyor.worker({ concurrency });
      // The worker's connections are opened before the clock starts, as BullMQ's and Bee-Queue's
      // are awaited with waitUntilReady() / ready(): one job through the whole path.
      await (await conveyor.enqueue(task, { i: -1 })).result({ timeoutMs: 30_000 });
      const fail = (error: Error) => seen.fail(error);
      await paced(inputs.length, ratePerSecond, (i) => {
        started[i] = performance.now();
        conveyor.enqueue(task, inputs[i]!).then((job) => seen.added(job.id, i), fail);
      });
      await seen.done;
      return { started, ended: seen.ended };
    } finally {
      await unsubscribe();
      await conveyor.close();
    }
  },
};
