import { createRedisCache } from "@conveyor/redis";
import { type RedisConnection, randomPrefix, useRedis } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger } from "./helpers.js";

describe("values JSON cannot encode", () => {
  let redis: RedisConnection;
  beforeAll(async () => {
    redis = await useRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("are refused with a ValidationError, write nothing and count no backend error", async () => {
    const { log } = recordingLogger();
    const cache = createRedisCache({ url: redis.url, namespace: randomPrefix(), log });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    try {
      for (const value of [{ big: 10n }, cyclic, () => 1, Symbol("s"), 5n]) {
        await expect(cache.set("k", value)).rejects.toMatchObject({ name: "ValidationError" });
      }
      await expect(
        cache.setMany([
          { key: "good", value: 1 },
          { key: "bad", value: { big: 1n } },
        ]),
      ).rejects.toMatchObject({ name: "ValidationError" });
      expect(await cache.getMany(["k", "good", "bad"])).toEqual([undefined, undefined, undefined]);
      expect((await cache.stats()).errors).toBe(0);
    } finally {
      await cache.close();
    }
  });
});
