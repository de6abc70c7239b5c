import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisConnection, runQueueConformance, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// One ephemeral redis-server for the file; each test's queue uses its own random prefix.
let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

runQueueConformance({
  name: "redis",
  capabilities: {
    delayed: true,
    priority: true,
    pause: true,
    cancelActive: true,
    events: true,
    progress: true,
    results: true,
    persistent: true,
    shared: true,
  },
  queue: ({ prefix }) => createRedisQueue({ url: redis.url, prefix, log: silentLogger }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
