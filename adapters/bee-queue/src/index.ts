export { conveyorAdapter } from "./adapter-module.js";
export { diagnoseBeeQueue } from "./diagnose.js";
export type { BeeQueueOptions } from "./queue.js";
export { BEE_QUEUE_CAPABILITIES, createBeeQueue } from "./queue.js";
