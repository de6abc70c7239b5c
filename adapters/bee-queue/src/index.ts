export { conveyorAdapter } from "./adapter-module.js";
export type { BeeQueueOptions } from "./queue.js";
export { BEE_QUEUE_CAPABILITIES, createBeeQueue } from "./queue.js";
