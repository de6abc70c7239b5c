export { conveyorAdapter } from "./adapter-module.js";
export type { RedisCacheOptions } from "./cache.js";
export { createRedisCache } from "./cache.js";
export type { RedisConnectionOptions } from "./connection.js";
export { diagnoseRedis } from "./diagnose.js";
export type { RedisQueueOptions } from "./queue/index.js";
export { createRedisQueue, REDIS_QUEUE_CAPABILITIES } from "./queue/index.js";
export type { RedisRateLimiterOptions } from "./rate-limiter.js";
export { createRedisRateLimiter } from "./rate-limiter.js";
