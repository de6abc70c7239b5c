export { conveyorAdapter } from "./adapter-module.js";
export type { MemoryCacheOptions } from "./cache.js";
export { createMemoryCache } from "./cache.js";
export { diagnoseMemory } from "./diagnose.js";
export type { MemoryQueueOptions } from "./queue.js";
export { createMemoryQueue, MEMORY_QUEUE_CAPABILITIES } from "./queue.js";
export type { MemoryRateLimiterOptions } from "./rate-limiter.js";
export { createMemoryRateLimiter } from "./rate-limiter.js";
