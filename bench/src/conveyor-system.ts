import { type BulkItem, type Conveyor, createConveyor, defineTask, type JobEvent } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import {
  type BenchSystem,
  Completion,
  cpuSince,
  type JobInput,
  type LatencyRun,
  noop,
  observeRuns,
  paced,
  type ThroughputRun,
} from "./system.js";

const task = defineTask({ name: "bench.noop", run: noop });

/** A fresh platform on fresh in-memory backends, so no round inherits another's jobs. */
async function open(): Promise<{ conveyor: Conveyor; close(): Promise<void> }> {
  const queue = createMemoryQueue();
  const cache = createMemoryCache();
  const rateLimiter = createMemoryRateLimiter();
  const conveyor = await createConveyor({
    queue,
    cache,
    rateLimiter,
    tasks: [task],
    logger: false,
    env: false,
  });
  return {
    conveyor,
    async close() {
      await conveyor.close();
      // Instances given in code belong to the caller, not to the platform.
      await Promise.all([queue.close(), cache.close(), rateLimiter.close()]);
    },
  };
}

/**
 * `events` observation: the queue's `completed` events, which the adapter emits once the
 * outcome is stored. Resolves to the unsubscribe function (a no-op for `task` observation,
 * which subscribes to nothing, so the adapter emits no events at all).
 */
async function listen(
  conveyor: Conveyor,
  completion: Completion,
  onCompleted?: (event: JobEvent) => void,
): Promise<() => Promise<void>> {
  return conveyor.queue.subscribe(
    (event) => {
      if (event.type === "completed") {
        onCompleted?.(event);
        completion.add();
      } else if (event.type === "failed" || event.type === "retrying" || event.type === "cancelled") {
        completion.fail(
          new Error(`conveyor: job ${event.jobId} ${event.type}: ${event.error?.message ?? "no error"}`),
        );
      }
    },
    { queue: "default" },
  );
}

const nothing = async () => {};

/** Core + `@conveyor/memory`: `enqueueMany` in chunks, one worker, a no-op task. */
export const conveyorSystem: BenchSystem = {
  name: "conveyor",

  async throughput({ inputs, chunk, concurrency, observe }): Promise<ThroughputRun> {
    const { conveyor, close } = await open();
    const total = inputs.length;
    // The items a caller would build; allocated before the clock starts, as the inputs are.
    const batches: BulkItem<JobInput>[][] = [];
    for (let from = 0; from < total; from += chunk) {
      batches.push(inputs.slice(from, from + chunk).map((input) => ({ input })));
    }
    const completion = new Completion(total, "conveyor");
    const unsubscribe = observe === "events" ? await listen(conveyor, completion) : nothing;
    if (observe === "task") observeRuns(() => completion.add());
    try {
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (const batch of batches) await conveyor.enqueueMany(task, batch);
      const enqueued = performance.now();
      conveyor.worker({ concurrency });
      await completion.done;
      const end = performance.now();
      return { enqueueMs: enqueued - start, processMs: end - enqueued, cpuUs: cpuSince(cpu) };
    } finally {
      observeRuns(undefined);
      await unsubscribe();
      await close();
    }
  },

  async latency({ inputs, ids, concurrency, ratePerSecond, observe }): Promise<LatencyRun> {
    const { conveyor, close } = await open();
    const total = inputs.length;
    const started = new Float64Array(total);
    const ended = new Float64Array(total);
    const completion = new Completion(total, "conveyor");
    let unsubscribe = nothing;
    if (observe === "events") {
      const indexOf = new Map(ids.map((id, index) => [id, index]));
      unsubscribe = await listen(conveyor, completion, (event) => {
        ended[indexOf.get(event.jobId)!] = performance.now();
      });
    } else {
      observeRuns((input) => {
        ended[input.i] = performance.now();
        completion.add();
      });
    }
    try {
      conveyor.worker({ concurrency });
      const fail = (error: Error) => completion.fail(error);
      await paced(total, ratePerSecond, (index) => {
        started[index] = performance.now();
        conveyor.enqueue(task, inputs[index]!, { jobId: ids[index]! }).catch(fail);
      });
      await completion.done;
      return { started, ended };
    } finally {
      observeRuns(undefined);
      await unsubscribe();
      await close();
    }
  },
};
