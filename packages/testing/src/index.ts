export { runCacheConformance } from "./cache/index.js";
export type {
  CacheConformanceContext,
  CacheConformanceOptions,
  Deferred,
  QueueConformanceContext,
  QueueConformanceOptions,
  RateLimiterConformanceContext,
  RateLimiterConformanceOptions,
  WaitForOptions,
} from "./conformance.js";
export { deferred, randomPrefix, sleep, waitFor } from "./conformance.js";
export { runQueueConformance } from "./queue/index.js";
export { runRateLimiterConformance } from "./rate-limiter/index.js";
export type { RedisClusterHandle, RedisClusterOptions } from "./redis-cluster.js";
export { startRedisCluster } from "./redis-cluster.js";
export type { RedisConnection, RedisServerHandle, RedisServerOptions } from "./redis-server.js";
export {
  freePort,
  RedisServerNotFoundError,
  RedisServerStartError,
  startRedisServer,
  useRedis,
} from "./redis-server.js";
export { runScheduleConformance } from "./schedules/index.js";
export type { ScheduleConformanceContext, ScheduleConformanceOptions } from "./schedules/kit.js";
