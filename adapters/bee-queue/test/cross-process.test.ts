import { createConveyor, defineTask, type JobEvent, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { deferred, type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBeeQueue } from "../src/index.js";

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

// Two adapters on one prefix stand in for two processes: each has its own connections, so a
// cancel, a progress report or an event crosses Redis (pub/sub and the side-store), not memory.
describe("bee-queue across adapters", () => {
  it("a cancel from another adapter aborts the running handler through the cancel channel", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const started = deferred<void>();
    let reason: unknown;
    const task = defineTask({
      name: "t.long",
      queue: name,
      run: async (_input: null, ctx) => {
        await ctx.progress(1, 3, "started");
        started.resolve();
        reason = await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason), { once: true }),
        );
        throw ctx.signal.reason;
      },
    });
    const options = (queue: ReturnType<typeof createBeeQueue>) => ({
      queue,
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [task],
      logger: false as const,
      env: false,
    });
    // A long check interval: the abort must come from the notice, not from the polling safety net.
    const workerQueue = createBeeQueue({
      url: redis.url,
      prefix,
      log: silentLogger,
      checkIntervalMs: 60_000,
    });
    const apiQueue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const workerSide = await createConveyor(options(workerQueue));
    const apiSide = await createConveyor(options(apiQueue));
    const events: JobEvent[] = [];
    const unsubscribe = await apiQueue.subscribe((event) => events.push(event), { queue: name });
    const worker = workerSide.worker();
    try {
      const job = await apiSide.enqueue(task, null);
      await started.promise;
      expect(await apiSide.job(job.id).progress()).toEqual({ current: 1, total: 3, message: "started" });
      expect(await apiSide.cancel(job.id)).toBe("requested");
      await expect(job.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ name: "JobCancelledError" });
      expect(reason).toMatchObject({ name: "JobCancelledError" });
      expect((await apiSide.job(job.id).get()).state).toBe("cancelled");
      await waitFor(() => events.some((e) => e.type === "cancelled"), { timeoutMs: 5_000 });
      expect(events.map((e) => e.type)).toEqual(["added", "active", "progress", "cancelled"]);
    } finally {
      await unsubscribe();
      await worker.close();
      await workerSide.close();
      await apiSide.close();
      await workerQueue.close();
      await apiQueue.close();
    }
  });

  it("a cancel whose notice was missed is still found by the worker's check", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const started = deferred<void>();
    const task = defineTask({
      name: "t.long",
      queue: name,
      run: async (_input: null, ctx) => {
        started.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        throw ctx.signal.reason;
      },
    });
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger, checkIntervalMs: 100 });
    const conveyor = await createConveyor({
      queue,
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [task],
      logger: false,
      env: false,
    });
    const worker = conveyor.worker();
    const raw = createClient({ url: redis.url });
    try {
      const job = await conveyor.enqueue(task, null);
      await started.promise;
      // The flag a cancel sets, without the pub/sub notice (as if the subscriber was reconnecting).
      await new Promise((resolve, reject) =>
        raw.hset(`${prefix}:#conveyor:j:${job.id}`, "cancel", "keep", (error) =>
          error ? reject(error) : resolve(null),
        ),
      );
      await expect(job.result({ timeoutMs: 5_000 })).rejects.toMatchObject({ name: "JobCancelledError" });
      expect((await job.get()).state).toBe("cancelled");
    } finally {
      raw.quit();
      await worker.close();
      await conveyor.close();
      await queue.close();
    }
  });
});
