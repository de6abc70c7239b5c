import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { deferred, freePort, randomPrefix, sleep, startRedisServer } from "@conveyor/testing";
import { describe, expect, it } from "vitest";
import { createBeeQueue } from "../src/index.js";

describe("bee-queue without a reachable Redis", () => {
  it("calls fail with BackendUnavailableError after connectTimeoutMs, and close() still returns", async () => {
    const port = await freePort();
    const queue = createBeeQueue({
      url: `redis://127.0.0.1:${port}/0?connectTimeoutMs=300`,
      log: silentLogger,
      onError: () => {},
    });
    const consumer = queue.consume({ queues: ["q"], concurrency: 2, workerId: "w" }, async () => ({
      type: "completed",
      result: null,
    }));
    const started = Date.now();
    await expect(queue.counts("q")).rejects.toMatchObject({ name: "BackendUnavailableError" });
    expect(Date.now() - started).toBeLessThan(5_000);
    await consumer.close({ drain: false });
    await queue.close();
    await expect(queue.getJob("x")).rejects.toMatchObject({ name: "ClosedError" });
  });

  it("a worker started while Redis is down starts working once it is up", async () => {
    const redis = await startRedisServer({ appendonly: true });
    try {
      await redis.kill("SIGKILL");
      const prefix = randomPrefix();
      const task = defineTask({
        name: "t.late",
        queue: `${prefix}-q`,
        run: (input: { n: number }) => input.n + 1,
      });
      const conveyor = await createConveyor({
        queue: createBeeQueue({ url: redis.url, prefix, log: silentLogger, onError: () => {} }),
        cache: createMemoryCache(),
        rateLimiter: createMemoryRateLimiter(),
        tasks: [task],
        logger: false,
        env: false,
      });
      const worker = conveyor.worker();
      await sleep(500);
      await redis.restart();
      const job = await conveyor.enqueue(task, { n: 41 });
      expect(await job.result({ timeoutMs: 10_000 })).toBe(42);
      await worker.close();
      await conveyor.close();
    } finally {
      await redis.stop();
    }
  });

  it("closing while Redis is gone still returns: running jobs are let go after a grace period", async () => {
    const redis = await startRedisServer();
    const prefix = randomPrefix();
    const started = deferred<void>();
    const task = defineTask({
      name: "t.hold",
      queue: `${prefix}-q`,
      run: async (_input: null, ctx) => {
        started.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        throw ctx.signal.reason;
      },
    });
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger, onError: () => {} });
    const conveyor = await createConveyor({
      queue,
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [task],
      logger: false,
      env: false,
    });
    const worker = conveyor.worker();
    try {
      await conveyor.enqueue(task, null);
      await started.promise;
      await redis.kill("SIGKILL");
      const closing = Date.now();
      await worker.close({ drain: false });
      await conveyor.close();
      await queue.close();
      expect(Date.now() - closing).toBeLessThan(20_000);
    } finally {
      await redis.stop();
    }
  }, 40_000);
});
