import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conveyor,
  createConveyor,
  defineTask,
  type Logger,
  registerAdapter,
  type TieredCache,
  type TierStats,
} from "@conveyor/core";
import { type RedisServerHandle, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

// The adapters from source; the registry would otherwise load their builds.
beforeAll(() => {
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
  registerAdapter("redis", { packageName: "@conveyor/redis", load: () => import("@conveyor/redis") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const BATCH = 300;

describe("tiered cache (memory → redis → disk) on a Redis outage", () => {
  it("a cached batch finishes with no error while Redis is killed; disk serves the misses; Redis is used again once back", async () => {
    const redis: RedisServerHandle = await startRedisServer();
    closers.push(() => redis.stop());
    const folder = mkdtempSync(join(tmpdir(), "conveyor-tiered-outage-"));
    closers.push(async () => rmSync(folder, { recursive: true, force: true }));

    const runs = new Map<number, number>();
    // A cache user: each job reads its value from the cache and computes (and stores) it on a
    // miss. A cache error would fail the job.
    const square = defineTask({
      name: "tiered.square",
      run: async (input: { n: number }, ctx) => {
        // Some work around the cache, so the kill lands while jobs are in flight.
        await new Promise((resolve) => setTimeout(resolve, 4));
        const key = `square:${input.n}`;
        const cached = await ctx.cache.get<number>(key);
        if (cached !== undefined) return cached;
        runs.set(input.n, (runs.get(input.n) ?? 0) + 1);
        const value = input.n * input.n;
        await ctx.cache.set(key, value, { ttlMs: 600_000 });
        return value;
      },
    });

    const { log, lines } = recordingLogger();
    // The memory tier holds 20 entries, so most reads of a 300-key batch go past it to Redis.
    const conveyor: Conveyor = await createConveyor({
      queue: "memory://",
      cache: `memory://?max=20,${redis.url}?namespace=outage,disk://${folder}?namespace=outage`,
      rateLimiter: "memory://",
      tieredCache: { retryMinMs: 100, retryMaxMs: 1_000 },
      tasks: [square],
      logger: log,
      env: false,
    });
    closers.push(() => conveyor.close());
    const cache = conveyor.cache as TieredCache;
    expect(cache.tiers.map((t) => t.name)).toEqual(["memory", "redis", "disk"]);
    const worker = conveyor.worker({ concurrency: 8 });

    const tier = async (name: string): Promise<TierStats> => {
      const found = (await cache.stats()).tiers.find((t) => t.name === name);
      if (!found) throw new Error(`no ${name} tier`);
      return found;
    };
    let completedBefore = 0;
    const runBatch = async (midway?: () => Promise<void>) => {
      const jobs = await conveyor.enqueueMany(
        square,
        Array.from({ length: BATCH }, (_, n) => ({ input: { n } })),
      );
      if (midway) {
        await waitFor(
          async () => (await conveyor.counts("default")).completed >= completedBefore + BATCH / 3,
          {
            timeoutMs: 30_000,
            intervalMs: 2,
            message: "a third of the batch done",
          },
        );
        await midway();
      }
      const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 30_000 })));
      completedBefore += BATCH;
      return results;
    };
    const expected = Array.from({ length: BATCH }, (_, n) => n * n);

    // 1. A cold run computes every value and writes it to the three tiers.
    expect(await runBatch()).toEqual(expected);
    expect(runs.size).toBe(BATCH);

    // 2. The same batch again, from the cache; Redis is killed a third of the way through.
    const redisBefore = await tier("redis");
    const diskBefore = await tier("disk");
    let killedAt = -1;
    const second = await runBatch(async () => {
      killedAt = (await conveyor.counts("default")).completed - completedBefore;
      await redis.kill("SIGKILL");
    });
    expect(second).toEqual(expected);
    // The kill landed in the middle of the batch, not after it.
    expect(killedAt).toBeLessThan(BATCH * 0.8);
    // Every job was a cache hit: none ran again, none saw a cache error.
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(lines.filter((l) => /cache (read|write) failed/.test(l.message))).toEqual([]);
    const redisDuring = await tier("redis");
    const diskDuring = await tier("disk");
    expect(redisDuring.hits - redisBefore.hits).toBeGreaterThan(0); // before the kill
    expect(redisDuring.healthy).toBe(false);
    expect(redisDuring.errors).toBeGreaterThan(0);
    // The misses past memory while Redis was down: served by disk.
    expect(diskDuring.hits - diskBefore.hits).toBeGreaterThanOrEqual(BATCH - killedAt - 20 - 8);
    const warnings = lines.filter((l) => l.level === "warn" && /\[conveyor:cache\]/.test(l.message));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/the redis tier \(2 of 3\) of the tiered cache failed/);

    // 3. Redis comes back (empty: it has no persistence); the tier is retried and used again.
    await redis.restart();
    await waitFor(
      async () => {
        // A key no tier holds: a hit in the memory tier would never reach the redis tier.
        await cache.get(`probe:${Date.now()}`);
        return (await tier("redis")).healthy;
      },
      { timeoutMs: 10_000, message: "the redis tier to be healthy again" },
    );
    expect(lines.some((l) => l.level === "info" && /the redis tier .* answers again/.test(l.message))).toBe(
      true,
    );
    // A run back-fills Redis from disk; the next one reads Redis again.
    expect(await runBatch()).toEqual(expected);
    const redisBack = await tier("redis");
    expect(await runBatch()).toEqual(expected);
    const redisAfter = await tier("redis");
    expect(redisAfter.healthy).toBe(true);
    expect(redisAfter.hits - redisBack.hits).toBeGreaterThan(BATCH / 2);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    await worker.close();
  }, 90_000);
});
