import {
  type BulkItem,
  type Conveyor,
  createConveyor,
  defineTask,
  type QueueAdapter,
  silentLogger,
} from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisBenchSystem, type RedisJobInput, type RedisRound, Runs, Seen } from "./redis-system.js";
import { cpuSince, paced } from "./system.js";

/** A queue under test: throughput and latency rounds, and jobs added one by one, awaited. */
export interface QueueSide extends RedisBenchSystem {
  /** Adds `inputs` one call at a time, each awaited; answers the time it took, in ms. */
  addOneByOne(round: RedisRound, inputs: readonly RedisJobInput[]): Promise<number>;
}

/** Times `add(i)` for every input, one at a time. */
export async function timeOneByOne(
  inputs: readonly RedisJobInput[],
  add: (input: RedisJobInput) => Promise<unknown>,
): Promise<number> {
  const start = performance.now();
  for (const input of inputs) await add(input);
  return performance.now() - start;
}

let onRun: (input: RedisJobInput) => void = () => {};
const task = defineTask({
  name: "bench.noop",
  run: (input: RedisJobInput) => {
    onRun(input);
    return null;
  },
});

/** The whole platform on `queue`; the cache and limiter are not on the path of a task that uses neither. */
function openConveyor(queue: QueueAdapter): Promise<Conveyor> {
  return createConveyor({
    queue,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [task],
    logger: false,
    env: false,
  });
}

/** Conveyor (core runtime + the adapter `makeQueue` builds): `enqueueMany`, `enqueue`, one worker. */
export function conveyorSide(label: string, makeQueue: (round: RedisRound) => QueueAdapter): QueueSide {
  const open = (round: RedisRound) => openConveyor(makeQueue(round));
  return {
    label,

    async addOneByOne(round, inputs) {
      const conveyor = await open(round);
      try {
        // The connection is opened before the clock starts, as the bare sides' waitUntilReady().
        await conveyor.counts("default");
        return await timeOneByOne(inputs, (input) => conveyor.enqueue(task, input));
      } finally {
        await conveyor.close();
      }
    },

    async throughput(round, { inputs, chunk, concurrency }) {
      const conveyor = await open(round);
      const batches: BulkItem<RedisJobInput>[][] = [];
      for (let from = 0; from < inputs.length; from += chunk) {
        batches.push(inputs.slice(from, from + chunk).map((input) => ({ input })));
      }
      const runs = new Runs(
        inputs.length,
        label,
        async () => (await conveyor.counts("default")).completed === inputs.length,
      );
      onRun = () => runs.ran();
      try {
        await conveyor.counts("default");
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
      const seen = new Seen(inputs.length, label);
      const started = new Float64Array(inputs.length);
      // Completion as another process sees it (and `job.result()` waits for it): the `completed` event.
      const unsubscribe = await conveyor.queue.subscribe(
        (event) => {
          if (event.type === "completed") seen.completedId(event.jobId);
        },
        { queue: "default" },
      );
      try {
        conveyor.worker({ concurrency });
        // One job through the whole path first, as the bare sides await their connections.
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
}

/** Conveyor (core + `@conveyor/redis` queue): `enqueueMany` in chunks, `enqueue`, one worker. */
export const conveyorRedisSystem: QueueSide = conveyorSide("Conveyor redis", (round) =>
  createRedisQueue({ url: round.url, prefix: round.name, log: silentLogger, checkPersistence: false }),
);
