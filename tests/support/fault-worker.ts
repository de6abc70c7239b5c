// The worker loop the queue adapters' fault fixtures share (tests/<adapter>/fixtures/worker.ts):
// each fixture builds its own adapter and hands it here.
import { createConveyor, defineTask, type QueueAdapter, type Task } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";

/** What a fault fixture's worker runs. */
export interface FaultWorkerOptions {
  /** The adapter under test, built by the fixture. */
  readonly adapter: QueueAdapter;
  readonly queue: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  /** How long each faults.echo job takes. */
  readonly jobMs: number;
  /** Tasks besides faults.echo the fixture's tests enqueue. */
  readonly tasks?: readonly Task[];
}

/**
 * Consumes `queue` with faults.echo (prints "start <id> <attempt>", waits jobMs, returns input.n;
 * three retries), then prints "ready <workerId>". The process lives until it is killed.
 */
export async function runFaultWorker(options: FaultWorkerOptions): Promise<void> {
  const echo = defineTask({
    name: "faults.echo",
    queue: options.queue,
    retries: 3,
    run: async (input: { n: number }, ctx) => {
      process.stdout.write(`start ${ctx.jobId} ${ctx.attempt}\n`);
      await new Promise((resolve) => setTimeout(resolve, options.jobMs));
      return input.n;
    },
  });
  const conveyor = await createConveyor({
    queue: options.adapter,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [echo, ...(options.tasks ?? [])],
    logger: false,
    env: false,
  });
  const worker = conveyor.worker({
    queues: [options.queue],
    concurrency: options.concurrency,
    leaseMs: options.leaseMs,
  });
  process.stdout.write(`ready ${worker.id}\n`);
}
