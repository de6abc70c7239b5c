export type { RedisQueueOptions } from "./queue.js";
export { createRedisQueue, REDIS_QUEUE_CAPABILITIES } from "./queue.js";
