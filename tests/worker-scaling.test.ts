import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, type Conveyor, createConveyor, defineTask, type WorkerInfo } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { afterEach, describe, expect, it } from "vitest";

// Worker options on the real in-memory adapter: recycling after N jobs or above a memory limit,
// autoscaling between min and max by queue depth, and the errors for bad values.

/** A latch the held tasks wait on, so the test decides when jobs end (no timing). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open: () => open(), opened };
}

let latch = gate();
let running = 0;
let peak = 0;
const hold = defineTask({
  name: "scaling.hold",
  async run(input: { n: number }) {
    running += 1;
    peak = Math.max(peak, running);
    try {
      await latch.opened;
      return input.n;
    } finally {
      running -= 1;
    }
  },
});
const quick = defineTask({ name: "scaling.quick", run: (input: { n: number }) => input.n });

const platforms: Conveyor[] = [];
afterEach(async () => {
  latch.open();
  await Promise.all(platforms.splice(0).map((platform) => platform.close()));
  latch = gate();
  running = 0;
  peak = 0;
});

async function platform(intervalMs = 20): Promise<Conveyor> {
  const conveyor = await createConveyor({
    queue: createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [hold, quick],
    logger: false,
    env: false,
    heartbeat: { intervalMs },
  });
  platforms.push(conveyor);
  return conveyor;
}

async function until<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 1_000; i++) {
    const value = await read();
    if (ok(value)) return value;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("maxJobsPerProcess", () => {
  it("stops claiming after N jobs, drains the running ones and resolves closed with the reason", async () => {
    const conveyor = await platform();
    const worker = conveyor.worker({ concurrency: 2, maxJobsPerProcess: 3 });
    const jobs = await conveyor.enqueueMany(
      hold,
      Array.from({ length: 6 }, (_, n) => ({ input: { n } })),
    );
    await until(
      () => worker.processed,
      (n) => n === 2,
      "two jobs running",
    );
    latch.open();
    const exit = await worker.closed;
    expect(exit.reason).toBe("recycle");
    expect(exit.recycle).toMatchObject({ limit: "jobs", jobs: 3 });
    expect(worker.processed).toBe(3);
    const states = await Promise.all(jobs.map((job) => job.status()));
    // Every job the worker started finished; the others wait for the next worker, untouched.
    expect(states.filter((state) => state === "completed")).toHaveLength(3);
    expect(states.filter((state) => state === "waiting")).toHaveLength(3);

    const next = conveyor.worker({ concurrency: 2 });
    for (const job of jobs) expect(await job.result({ timeoutMs: 5_000 })).toBeTypeOf("number");
    await next.close();
  });

  it("recycles on maxMemoryPerProcessMb once a job ends above it", async () => {
    const conveyor = await platform();
    // Any running Node process is above 1 MiB: the first job that ends recycles the worker.
    const worker = conveyor.worker({ maxMemoryPerProcessMb: 1 });
    const job = await conveyor.enqueue(quick, { n: 7 });
    const exit = await worker.closed;
    expect(exit.reason).toBe("recycle");
    expect(exit.recycle?.limit).toBe("memory");
    expect(exit.recycle?.rssMb).toBeGreaterThan(1);
    expect(await job.status()).toBe("completed");
  });

  it("a plain close() resolves closed with reason close", async () => {
    const conveyor = await platform();
    const worker = conveyor.worker({ maxJobsPerProcess: 100 });
    await worker.close();
    expect(await worker.closed).toEqual({ reason: "close" });
  });
});

describe("autoscaling concurrency", () => {
  it("grows to max while jobs wait, never runs more than max, and shrinks back to min when idle", async () => {
    const conveyor = await platform();
    const worker = conveyor.worker({
      concurrency: { min: 1, max: 4, step: 1, intervalMs: 10, scaleDownAfterMs: 30 },
    });
    expect(worker.concurrency).toBe(1);
    expect(worker.autoscale).toEqual({ min: 1, max: 4 });
    const jobs = await conveyor.enqueueMany(
      hold,
      Array.from({ length: 10 }, (_, n) => ({ input: { n } })),
    );
    await until(
      () => worker.concurrency,
      (n) => n === 4,
      "concurrency 4",
    );
    await until(
      () => running,
      (n) => n === 4,
      "4 jobs running",
    );
    const beat = await until(
      () => conveyor.workers(),
      (list: WorkerInfo[]) => list.some((w) => w.id === worker.id && w.concurrency === 4),
      "a heartbeat with concurrency 4",
    );
    expect(beat.find((w) => w.id === worker.id)?.autoscale).toEqual({ min: 1, max: 4 });

    latch.open();
    for (const job of jobs) await job.result({ timeoutMs: 5_000 });
    expect(peak).toBe(4);
    await until(
      () => worker.concurrency,
      (n) => n === 1,
      "concurrency back to 1",
    );
    expect(worker.processed).toBe(10);
    await worker.close();
  });

  it("with min 0 claims nothing while idle and starts when jobs wait", async () => {
    const conveyor = await platform();
    const worker = conveyor.worker({ concurrency: { min: 0, max: 2, intervalMs: 10, scaleDownAfterMs: 20 } });
    expect(worker.concurrency).toBe(0);
    const job = await conveyor.enqueue(quick, { n: 1 });
    expect(await job.result({ timeoutMs: 5_000 })).toBe(1);
    await until(
      () => worker.concurrency,
      (n) => n === 0,
      "concurrency back to 0",
    );
    await worker.close();
  });
});

describe("bad worker options", () => {
  it.each([
    [{ concurrency: { min: 5, max: 2 } }, "concurrency.min (5) is above concurrency.max (2)"],
    [{ concurrency: { min: 1.5, max: 2 } }, "concurrency.min must be a whole number of at least 0, got 1.5"],
    [{ concurrency: { min: 0, max: 0 } }, "concurrency.max must be a whole number of at least 1, got 0"],
    [{ concurrency: { min: 1, max: 4, step: 0 } }, "concurrency.step must be a whole number"],
    [{ concurrency: { min: 1, max: 4, intervalMs: 0 } }, "concurrency.intervalMs must be a positive number"],
    [{ concurrency: 0 }, "concurrency must be a whole number of at least 1, got 0"],
    [{ maxJobsPerProcess: 2.5 }, "maxJobsPerProcess must be a whole number above 0, got 2.5"],
    [{ maxMemoryPerProcessMb: -1 }, "maxMemoryPerProcessMb must be a number above 0, got -1"],
  ])("%j throws a ConfigError", async (options, message) => {
    const conveyor = await platform();
    let thrown: unknown;
    try {
      conveyor.worker(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(message);
  });
});
