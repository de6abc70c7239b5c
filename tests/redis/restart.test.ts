import { isConveyorError } from "@conveyor/core";
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger, redisCli } from "./helpers.js";

// Each test owns a server it kills and restarts: the others must not see it go.
describe("a Redis restart in the middle of a run", () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("cache calls fail fast with BackendUnavailableError while Redis is down and work again after", async () => {
    const { log, lines } = recordingLogger();
    const cache = createRedisCache({ url: redis.url, namespace: randomPrefix(), log });
    try {
      await cache.set("before", { n: 1 });
      expect(await cache.get("before")).toEqual({ n: 1 });

      await redis.kill("SIGKILL");
      const started = Date.now();
      const error = await cache.get("before").then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isConveyorError(error)).toBe(true);
      expect((error as Error).name).toBe("BackendUnavailableError");
      expect((error as Error).message).toContain(redis.url);
      // Refused at once, not after a queue of retries.
      expect(Date.now() - started).toBeLessThan(1_000);
      // Every call fails loudly: none answers a miss or a no-op while Redis is away.
      const calls = [
        () => cache.set("during", 1),
        () => cache.getMany(["before", "x"]),
        () => cache.setMany([{ key: "during", value: 1 }]),
        () => cache.has("before"),
        () => cache.delete("before"),
        () => cache.clear(),
      ];
      for (const call of calls) await expect(call()).rejects.toThrow(/unavailable/);
      expect((await cache.stats()).errors).toBe(calls.length + 1);

      await redis.restart();
      // The connection comes back by itself (the server kept no data: it has no persistence).
      await waitFor(
        async () => {
          await cache.set("after", "back");
          return (await cache.get("after")) === "back";
        },
        { timeoutMs: 10_000, message: "the cache to work again" },
      );
      expect(lines.some((l) => l.level === "warn" && /lost the connection/.test(l.message))).toBe(true);
      await waitFor(
        () => lines.some((l) => l.level === "info" && /connected to Redis at .* again/.test(l.message)),
        {
          message: "the reconnect to be logged",
        },
      );
    } finally {
      await cache.close();
    }
  });

  it("the limiter answers from its insurance with one warning while Redis is down, then from Redis again", async () => {
    const { log, warnings, lines } = recordingLogger();
    const prefix = `${randomPrefix()}:`;
    const limiter = createRedisRateLimiter({ url: redis.url, prefix, log });
    const limit = { points: 3, durationMs: 60_000 };
    try {
      expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await redisCli(redis.url, "HGET", `${prefix}k`, "c")).toBe("1");

      await redis.kill("SIGKILL");
      // The insurance counts on its own: it never saw the first point.
      const during = [];
      for (let i = 0; i < 4; i++) during.push(await limiter.consume("k", limit));
      expect(during.map((a) => a.allowed)).toEqual([true, true, true, false]);
      expect(warnings(/rate limits are enforced per process while redis is unreachable/)).toHaveLength(1);

      await redis.restart();
      // Calls drive the probes of Redis, so the wait keeps calling.
      await waitFor(
        async () => {
          await limiter.consume("k", limit);
          return lines.some((l) => l.level === "info" && /answers again/.test(l.message));
        },
        { timeoutMs: 15_000, intervalMs: 50, message: "the limiter to switch back to Redis" },
      );
      // Redis counts again (its data went with the restart: a fresh window).
      expect(await redisCli(redis.url, "EXISTS", `${prefix}k`)).toBe("1");
      expect(warnings(/per process/)).toHaveLength(1);
    } finally {
      await limiter.close();
    }
  });
});
