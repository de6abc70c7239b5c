import { createBeeQueue } from "@conveyor/bee-queue";
import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
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
  name: "bee-queue",
  capabilities: {
    delayed: true,
    priority: false,
    pause: false,
    cancelActive: true,
    events: true,
    progress: true,
    results: true,
    persistent: true,
    shared: true,
  },
  queue: ({ prefix }) => createBeeQueue({ url: redis.url, prefix, log: silentLogger }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
