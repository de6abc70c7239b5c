import { createBeeQueue } from "@conveyor/bee-queue";
import { createBullmqQueue } from "@conveyor/bullmq";
import {
  type Conveyor,
  createConveyor,
  createScheduler,
  defineTask,
  type Logger,
  type QueueAdapter,
  SCHEDULE_META,
  type Scheduler,
  silentLogger,
} from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { type RedisConnection, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// Adapters whose backend keeps no schedules: each scheduler holds the schedules in its own memory
// and fires every tick itself; the tick's job id makes the queue keep one job per tick.
let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const ADAPTERS: { name: string; queue: (prefix: string) => QueueAdapter }[] = [
  {
    name: "bullmq",
    queue: (prefix) =>
      createBullmqQueue({ url: `bullmq+${redis.url}`, prefix, log: silentLogger, checkPersistence: false }),
  },
  {
    name: "bee-queue",
    queue: (prefix) =>
      createBeeQueue({ url: `bee-queue+${redis.url}`, prefix, log: silentLogger, checkPersistence: false }),
  },
];

const TASK = "fallback.tick";

async function platform(queue: QueueAdapter, prefix: string): Promise<Conveyor> {
  const tick = defineTask({ name: TASK, queue: `${prefix}-q`, run: (input: unknown) => input });
  const conveyor = await createConveyor({
    queue,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [tick],
    logger: false,
    env: false,
  });
  closers.push(async () => {
    await conveyor.close();
    await queue.close();
  });
  return conveyor;
}

describe.each(ADAPTERS)("schedules without a schedule store: $name", (adapter) => {
  it("two schedulers each hold the schedule and fire every tick; the queue keeps one job per tick", async () => {
    const prefix = randomPrefix();
    const one = await platform(adapter.queue(prefix), prefix);
    const two = await platform(adapter.queue(prefix), prefix);
    expect(one.queue.schedules).toBeUndefined();
    const fired: boolean[] = [];
    const log: Logger = {
      ...silentLogger,
      debug(message, fields) {
        if (message === "schedule fired") fired.push(fields?.created === true);
      },
    };
    const everyMs = 250;
    const options = {
      leaseMs: 2_000,
      pollIntervalMs: 20,
      log,
      schedules: [{ name: "t", task: TASK, everyMs }],
    };
    const schedulers: Scheduler[] = [createScheduler(one, options), createScheduler(two, options)];
    closers.push(async () => {
      for (const scheduler of schedulers) await scheduler.close();
    });
    for (const scheduler of schedulers) await scheduler.start();
    expect(schedulers.map((s) => s.shared)).toEqual([false, false]);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const scheduler of schedulers) await scheduler.close();
    const stopped = Date.now();

    const jobs = (await one.listJobs({ limit: 1_000 })).filter(
      (job) => job.meta?.[SCHEDULE_META.schedule] === "t",
    );
    const ticks = jobs.map((job) => Number(job.meta![SCHEDULE_META.tick])).sort((a, b) => a - b);
    expect(new Set(jobs.map((job) => job.id)).size).toBe(jobs.length);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.slice(1).filter((tick, i) => tick - ticks[i]! !== everyMs)).toEqual([]);
    const inWindow = Math.floor(stopped / everyMs) - Math.ceil(started / everyMs) + 1;
    expect(Math.abs(ticks.length - inWindow)).toBeLessThanOrEqual(1);
    // Both fired (nearly) every tick, and exactly one of the two adds of each tick created its job.
    expect(fired.length).toBeGreaterThanOrEqual(2 * ticks.length - 2);
    expect(fired.filter(Boolean).length).toBe(ticks.length);
  });
});
