import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type NewJob, type QueueAdapter, silentLogger } from "@conveyor/core";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const testsDir = fileURLToPath(new URL("..", import.meta.url));
const builtScripts = fileURLToPath(
  new URL("../../adapters/redis/dist/queue/lua/claim-2.lua", import.meta.url),
);

function job(id: string, queue: string): NewJob {
  const now = Date.now();
  return {
    id,
    queue,
    task: "scripts.echo",
    input: { id },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 3,
  };
}

/** Adds a job, retrying while Redis is still coming back, and waits until it completed. */
async function roundTrip(queue: QueueAdapter, id: string, name: string): Promise<void> {
  await waitFor(
    async () => {
      try {
        await queue.add([job(id, name)]);
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 10_000, message: `job ${id} to be accepted` },
  );
  await waitFor(async () => (await queue.getJob(id))?.state === "completed", {
    timeoutMs: 10_000,
    message: `job ${id} to complete`,
  });
}

describe("the queue's Lua scripts", () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  // The package reads its .lua files at run time; this checks they ship in dist/ and are found
  // from the ESM and the CJS bundle of the installed package, outside vitest and tsx.
  it.each(["esm", "cjs"])("the built package (%s) finds its scripts and runs a job", async (format) => {
    expect(
      existsSync(builtScripts),
      "adapters/redis/dist has no queue scripts: build first (pnpm --filter @conveyor/redis... build)",
    ).toBe(true);
    const prefix = randomPrefix();
    const { stdout } = await run(
      process.execPath,
      ["redis-queue/fixtures/built-package.mjs", format, redis.url, prefix],
      { cwd: testsDir, timeout: 15_000 },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ format, state: "completed", result: { echoed: { format } } });
  });

  it("a flushed script cache (NOSCRIPT) is reloaded, for producers and running workers alike", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createRedisQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false });
    const admin = new Redis(redis.url);
    const consumer = queue.consume({ queues: [name], concurrency: 4, workerId: "w1" }, async (claimed) => ({
      type: "completed",
      result: claimed.record.input,
    }));
    try {
      await roundTrip(queue, "before", name);
      expect(await admin.script("FLUSH")).toBe("OK");
      await roundTrip(queue, "after-flush", name);
      expect((await queue.getJob("after-flush"))?.result).toEqual({ id: "after-flush" });
    } finally {
      await consumer.close();
      await queue.close();
      admin.disconnect();
    }
  });

  it("after a redis-server restart the scripts are loaded again and the worker resumes by itself", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createRedisQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false });
    const consumer = queue.consume({ queues: [name], concurrency: 4, workerId: "w1" }, async (claimed) => ({
      type: "completed",
      result: claimed.record.input,
    }));
    try {
      await roundTrip(queue, "before", name);
      // No persistence: the restarted server has neither the data nor the scripts.
      await redis.kill("SIGKILL");
      await redis.restart();
      await roundTrip(queue, "after-restart", name);
      expect((await queue.getJob("after-restart"))?.result).toEqual({ id: "after-restart" });
    } finally {
      await consumer.close();
      await queue.close();
    }
  });
});
