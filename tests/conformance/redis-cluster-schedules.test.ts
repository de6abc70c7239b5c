import { silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisClusterHandle, runScheduleConformance, startRedisCluster } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// The schedule suite on a local 3-master Redis Cluster: every schedule key shares the queue's hash
// tag, so each Lua script stays in one slot while the tests' prefixes spread over the masters.
let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

runScheduleConformance({
  name: "redis (cluster)",
  queue: ({ prefix }) =>
    createRedisQueue({ url: cluster.url, prefix, log: silentLogger, checkPersistence: false }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
