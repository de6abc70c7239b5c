export type { RedisCall } from "./store.js";
export { createRedisScheduleStore } from "./store.js";
