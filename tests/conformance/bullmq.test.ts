import { BULLMQ_QUEUE_CAPABILITIES, createBullmqQueue } from "@conveyor/bullmq";
import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { type RedisConnection, runQueueConformance, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

runQueueConformance({
  name: "bullmq",
  capabilities: BULLMQ_QUEUE_CAPABILITIES,
  queue: ({ prefix }) =>
    createBullmqQueue({ url: `bullmq+${redis.url}`, prefix, log: silentLogger, checkPersistence: false }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
