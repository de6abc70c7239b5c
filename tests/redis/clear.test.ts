import { createRedisCache } from "@conveyor/redis";
import { type RedisConnection, randomPrefix, useRedis } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger, redisCli } from "./helpers.js";

describe("clear() stays inside its namespace", () => {
  let redis: RedisConnection;
  beforeAll(async () => {
    redis = await useRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("leaves other namespaces, look-alike namespaces and foreign keys untouched", async () => {
    const { log } = recordingLogger();
    const id = randomPrefix();
    // "ns*" is a glob to SCAN's MATCH: an unescaped pattern would also clear "nsX" and "ns".
    const target = createRedisCache({ url: redis.url, namespace: `${id}-ns*`, log });
    const lookAlike = createRedisCache({ url: redis.url, namespace: `${id}-nsX`, log });
    const shorter = createRedisCache({ url: redis.url, namespace: `${id}-ns`, log });
    const foreign = [
      `${id}-foreign`,
      `conveyor:cache:${id}-ns*`,
      `conveyor:cache:${id}-ns*:k`,
      `${id}-ns*::k`,
    ];
    try {
      // Enough keys to take several SCAN pages.
      await target.setMany(Array.from({ length: 2_500 }, (_, i) => ({ key: `k${i}`, value: i })));
      await lookAlike.set("k1", "kept");
      await shorter.set("k1", "kept too");
      for (const key of foreign) await redisCli(redis.url, "SET", key, "not the cache's");

      await target.clear();

      expect(await target.getMany(["k0", "k1", "k2499"])).toEqual([undefined, undefined, undefined]);
      expect(
        await redisCli(
          redis.url,
          "EVAL",
          "return #redis.call('KEYS', ARGV[1])",
          "0",
          `conveyor:cache:${id}-ns\\*::*`,
        ),
      ).toBe("0");
      expect(await lookAlike.get("k1")).toBe("kept");
      expect(await shorter.get("k1")).toBe("kept too");
      for (const key of foreign) expect(await redisCli(redis.url, "GET", key)).toBe("not the cache's");
    } finally {
      await Promise.all([target.close(), lookAlike.close(), shorter.close()]);
      await redisCli(redis.url, "DEL", ...foreign);
    }
  });
});
