import {
  createConveyor,
  createScheduler,
  defineTask,
  type Logger,
  SCHEDULE_META,
  silentLogger,
} from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { expect, it } from "vitest";

it("a scheduler rides out a redis-server crash and restart: it backs off, warns once, and resumes every tick", async () => {
  const redis = await startRedisServer({ appendonly: true, appendfsync: "always" });
  const prefix = randomPrefix();
  const queue = createRedisQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false });
  const task = defineTask({ name: "outage.tick", queue: `${prefix}-q`, run: (input: unknown) => input });
  const conveyor = await createConveyor({
    queue,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [task],
    logger: false,
    env: false,
  });
  const warnings: string[] = [];
  const tokens: number[] = [];
  const log: Logger = {
    ...silentLogger,
    info(message, fields) {
      if (message === "scheduler leads") tokens.push(Number(fields?.token));
    },
    warn(message) {
      warnings.push(message);
    },
  };
  const everyMs = 200;
  const scheduler = createScheduler(conveyor, {
    leaseMs: 1_000,
    pollIntervalMs: 20,
    graceMs: 60_000,
    log,
    schedules: [{ name: "steady", task: "outage.tick", everyMs }],
  });
  try {
    await scheduler.start();
    const ticks = async () =>
      (await conveyor.listJobs({ limit: 1_000 }))
        .filter((job) => job.meta?.[SCHEDULE_META.schedule] === "steady")
        .map((job) => Number(job.meta![SCHEDULE_META.tick]))
        .sort((a, b) => a - b);
    await waitFor(async () => (await ticks()).length >= 3, { timeoutMs: 10_000, message: "three ticks" });
    await redis.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await redis.restart();
    const before = (await waitFor(() => ticks().catch(() => undefined), { timeoutMs: 15_000 })).length;
    await waitFor(async () => (await ticks()).length >= before + 5, {
      timeoutMs: 15_000,
      message: "ticks again",
    });
    const after = await ticks();
    // Every tick due during the outage ran once it was over (graceMs covers it), none twice.
    expect(new Set(after).size).toBe(after.length);
    expect(after.slice(1).filter((tick, i) => tick - after[i]! !== everyMs)).toEqual([]);
    expect(warnings.filter((w) => w.startsWith("scheduler round failed")).length).toBeGreaterThanOrEqual(1);
    expect(warnings.filter((w) => w.startsWith("scheduler round failed")).length).toBeLessThanOrEqual(2);
    // The lease ran out in the outage; the token taken afterwards is greater (the counter persisted).
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
  } finally {
    await scheduler.close().catch(() => {});
    await conveyor.close();
    await queue.close();
    await redis.stop();
  }
}, 60_000);
