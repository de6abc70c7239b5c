import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisConnection, runScheduleConformance, useRedis } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// One ephemeral redis-server (or REDIS_URL) for the file; each test's queues use its random prefix.
let redis: RedisConnection;
beforeAll(async () => {
  redis = await useRedis();
});
afterAll(async () => {
  await redis?.stop();
});

runScheduleConformance({
  name: "redis",
  queue: ({ prefix }) => createRedisQueue({ url: redis.url, prefix, log: silentLogger }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
