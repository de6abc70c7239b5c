import { fileURLToPath } from "node:url";
import { createConveyor, defineTask } from "@conveyor/core";
import { type RedisConnection, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The app resolves adapters the way a real one does: by URL scheme, from its own package root.
const appRoot = fileURLToPath(new URL("..", import.meta.url));

let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer({ appendonly: true });
});
afterAll(async () => {
  await redis?.stop();
});

/** One app, written once: it knows nothing of the backend but the env vars it is started with. */
async function runApp(env: Record<string, string>) {
  const wordCount = defineTask({
    name: "app.wordCount",
    retries: 1,
    async run({ text }: { text: string }, ctx) {
      if (ctx.attempt === 1 && text.includes("flaky")) throw new Error("first attempt fails");
      await ctx.progress(1, 1, "counted");
      return text.split(/\s+/).filter(Boolean).length;
    },
  });
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const conveyor = await createConveyor({ tasks: [wordCount], logger: false, roots: [appRoot] });
    const worker = conveyor.worker({ concurrency: 4 });
    const jobs = await conveyor.enqueueMany(wordCount, [
      { input: { text: "to be or not to be" } },
      { input: { text: "a flaky one" } },
    ]);
    const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 10_000 })));
    const records = await Promise.all(jobs.map((job) => job.get()));
    await worker.close();
    const backend = conveyor.backends.queue;
    await conveyor.close();
    return { results, attempts: records.map((r) => r.attempt), progress: records[0]!.progress, backend };
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe("switching CONVEYOR_QUEUE_URL", () => {
  it("runs the same app unchanged on memory:// and on bee-queue+redis://", async () => {
    const onMemory = await runApp({ CONVEYOR_URL: "memory://" });
    const url = `bee-queue+redis://${redis.host}:${redis.port}/0?prefix=${randomPrefix()}`;
    const onBeeQueue = await runApp({ CONVEYOR_URL: "memory://", CONVEYOR_QUEUE_URL: url });
    expect(onMemory.backend).toBe("memory://");
    expect(onBeeQueue.backend).toBe(url);
    for (const run of [onMemory, onBeeQueue]) {
      expect(run.results).toEqual([6, 3]);
      expect(run.attempts).toEqual([1, 2]);
      expect(run.progress).toEqual({ current: 1, total: 1, message: "counted" });
    }
  });
});
