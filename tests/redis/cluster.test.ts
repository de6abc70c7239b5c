import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger, redisCli } from "./helpers.js";

// A one-node Redis Cluster that owns every slot: enough to drive the clients' Cluster mode.
describe("Redis Cluster through ?cluster=true", () => {
  let redis: RedisServerHandle;
  let url: string;
  beforeAll(async () => {
    redis = await startRedisServer({
      // A lone node does not know its own address and would announce "" in CLUSTER SLOTS.
      args: ["--cluster-enabled", "yes", "--cluster-announce-ip", "127.0.0.1"],
    });
    await redisCli(redis.url, "CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    await waitFor(async () => (await redisCli(redis.url, "CLUSTER", "INFO")).includes("cluster_state:ok"), {
      message: "the cluster to be ok",
    });
    url = `${redis.url}?cluster=true`;
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("the cache works on a Cluster, clear included", async () => {
    const { log } = recordingLogger();
    const cache = createRedisCache({ url, namespace: randomPrefix(), log });
    const other = createRedisCache({ url, namespace: randomPrefix(), log });
    try {
      await cache.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: { i } })));
      await other.set("k1", "kept");
      expect(await cache.getMany(["k0", "k49", "missing"])).toEqual([{ i: 0 }, { i: 49 }, undefined]);
      await cache.clear();
      expect(await cache.get("k0")).toBeUndefined();
      expect(await other.get("k1")).toBe("kept");
    } finally {
      await cache.close();
      await other.close();
    }
  });

  it("the limiter works on a Cluster", async () => {
    const { log } = recordingLogger();
    const limiter = createRedisRateLimiter({ url, prefix: `${randomPrefix()}:`, log, insurance: false });
    try {
      const limit = { points: 2, durationMs: 60_000 };
      const answers = await Promise.all(Array.from({ length: 5 }, () => limiter.consume("k", limit)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(2);
      expect(await limiter.peek("k", limit)).toMatchObject({ allowed: false, consumed: 2 });
    } finally {
      await limiter.close();
    }
  });
});
