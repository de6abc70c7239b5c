import { silentLogger } from "@conveyor/core";
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import {
  type RedisConnection,
  runCacheConformance,
  runRateLimiterConformance,
  useRedis,
} from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// One ephemeral redis-server (or REDIS_URL) for the file; every test uses its own random
// namespace or prefix, so nothing is flushed.
let redis: RedisConnection;
beforeAll(async () => {
  redis = await useRedis();
});
afterAll(async () => {
  await redis?.stop();
});

runCacheConformance({
  name: "redis",
  create: ({ namespace }) => createRedisCache({ url: redis.url, namespace, log: silentLogger }),
});

runRateLimiterConformance({
  name: "redis",
  create: ({ prefix }) => createRedisRateLimiter({ url: redis.url, prefix: `${prefix}:`, log: silentLogger }),
});
