import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue, REDIS_QUEUE_CAPABILITIES } from "@conveyor/redis";
import { type RedisClusterHandle, runQueueConformance, startRedisCluster } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// The whole queue suite on a local 3-master Redis Cluster of ephemeral redis-server processes.
// Each test's random prefix is its own hash tag, so the tests' keys spread over the masters.
let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

runQueueConformance({
  name: "redis (cluster)",
  capabilities: { ...REDIS_QUEUE_CAPABILITIES },
  queue: ({ prefix }) =>
    createRedisQueue({ url: cluster.url, prefix, log: silentLogger, checkPersistence: false }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
