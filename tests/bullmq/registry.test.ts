import { createConveyor, defineTask } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let redis: RedisServerHandle;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

/** Connections the adapter opened (ioredis names them conveyor:bullmq:<role>). */
async function adapterConnections(): Promise<number> {
  const list = (await admin.client("LIST")) as string;
  return list.split("\n").filter((line) => / name=conveyor:bullmq:/.test(line)).length;
}

describe("bullmq+redis:// through the adapter registry", () => {
  it("an app configured by URL enqueues, a worker platform runs the job, and close() releases every connection", async () => {
    const prefix = randomPrefix();
    const url = `bullmq+${redis.url}/0?prefix=${prefix}&stalledIntervalMs=5000`;
    const wordCount = defineTask({
      name: "text.wordCount",
      queue: `${prefix}-words`,
      run: async (input: { text: string }, ctx) => {
        await ctx.progress(1, 1, "counted");
        return input.text.split(/\s+/).filter(Boolean).length;
      },
    });
    const common = {
      queue: url,
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [wordCount],
      logger: false as const,
      env: false as const,
    };
    const app = await createConveyor(common);
    const workers = await createConveyor(common);
    const worker = workers.worker({ concurrency: 2 });
    const job = await app.enqueue(wordCount, { text: "to be or not to be" });
    expect(await job.result({ timeoutMs: 10_000 })).toBe(6);
    expect(await job.get()).toMatchObject({
      state: "completed",
      progress: { current: 1, total: 1, message: "counted" },
    });
    expect(await adapterConnections()).toBeGreaterThan(0);

    await worker.close();
    await workers.close();
    await app.close();
    await waitFor(async () => (await adapterConnections()) === 0, {
      timeoutMs: 5_000,
      message: "every adapter connection to close",
    });
  });
});
