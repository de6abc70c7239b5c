import { parseUrl } from "@conveyor/core";
import { conveyorAdapter, createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger, redisCli } from "./helpers.js";

describe("password and database index in the URL", () => {
  let redis: RedisServerHandle;
  let base: string;
  beforeAll(async () => {
    // Set after the start: startRedisServer waits for a PONG, which a password-protected server
    // answers with NOAUTH.
    redis = await startRedisServer();
    await redisCli(redis.url, "CONFIG", "SET", "requirepass", "s3cret/with:odd@chars");
    base = `redis://:${encodeURIComponent("s3cret/with:odd@chars")}@${redis.host}:${redis.port}`;
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("the cache and the limiter authenticate and write to the database the URL names", async () => {
    const { log } = recordingLogger();
    const namespace = randomPrefix();
    const prefix = `${randomPrefix()}:`;
    const cache = createRedisCache({ url: `${base}/5`, namespace, log });
    const limiter = createRedisRateLimiter({ url: `${base}/6`, prefix, log, insurance: false });
    try {
      await cache.set("k", { v: 1 });
      expect(await cache.get("k")).toEqual({ v: 1 });
      await limiter.consume("k", { points: 2, durationMs: 60_000 });

      const cacheKey = `conveyor:cache:${namespace}::k`;
      expect(await redisCli(`${base}/5`, "EXISTS", cacheKey)).toBe("1");
      expect(await redisCli(`${base}/0`, "EXISTS", cacheKey)).toBe("0");
      expect(await redisCli(`${base}/6`, "HGET", `${prefix}k`, "c")).toBe("1");
      expect(await redisCli(`${base}/5`, "EXISTS", `${prefix}k`)).toBe("0");
    } finally {
      await cache.close();
      await limiter.close();
    }
  });

  it("a wrong password fails with BackendUnavailableError and the password masked", async () => {
    const { log } = recordingLogger();
    const url = `redis://:wrong-password@${redis.host}:${redis.port}/0?connectTimeoutMs=2000`;
    const cache = createRedisCache({ url, namespace: randomPrefix(), log });
    const limiter = createRedisRateLimiter({ url, log, insurance: false });
    try {
      for (const call of [
        () => cache.get("k"),
        () => limiter.consume("k", { points: 1, durationMs: 1_000 }),
      ]) {
        const error = (await call().then(
          () => undefined,
          (caught: unknown) => caught,
        )) as Error;
        expect(error?.name).toBe("BackendUnavailableError");
        expect(error.message).toContain(`redis://:***@${redis.host}:${redis.port}/0`);
        expect(error.message).not.toContain("wrong-password");
      }
    } finally {
      await cache.close();
      await limiter.close();
    }
  });

  it("malformed URLs and unknown options fail with ConfigError before connecting", () => {
    const bad = [
      "redis://localhost:6379/not-a-db",
      "redis://localhost:6379/0?colour=blue",
      "redis://localhost:7000/3?cluster=true",
      "redis://localhost:6379/0?nodes=h:1",
      "http://localhost:6379",
    ];
    for (const url of bad) expect(() => createRedisCache({ url }), url).toThrow(/\[conveyor:redis\]/);
  });

  it("the adapter module reads the cache's and the limiter's options from the URL", async () => {
    const namespace = randomPrefix();
    const prefix = `${randomPrefix()}:`;
    const cacheUrl = `${base}/0?namespace=${namespace}&ttlMs=60000&prefix=${prefix}&checkPersistence=1`;
    expect(() => conveyorAdapter.createCache?.({ url: cacheUrl, parsed: parseUrl(cacheUrl) })).toThrow(
      /unknown option "checkPersistence"/,
    );
    const goodCacheUrl = `${base}/0?namespace=${namespace}&ttlMs=60000&prefix=${prefix}`;
    const limiterUrl = `${base}/0?prefix=${prefix}rl:`;
    const cache = await conveyorAdapter.createCache!({ url: goodCacheUrl, parsed: parseUrl(goodCacheUrl) });
    const limiter = await conveyorAdapter.createRateLimiter!({
      url: limiterUrl,
      parsed: parseUrl(limiterUrl),
    });
    try {
      await cache.set("k", 1);
      const ttl = Number(await redisCli(`${base}/0`, "PTTL", `${prefix}${namespace}::k`));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      await limiter.consume("k", { points: 1, durationMs: 60_000 });
      expect(await redisCli(`${base}/0`, "HGET", `${prefix}rl:k`, "c")).toBe("1");
    } finally {
      await cache.close();
      await limiter.close();
    }
  });
});
