export { conveyorAdapter } from "./adapter-module.js";
export type { BullmqExtras, BullmqMetrics, BullmqQueueOptions } from "./queue.js";
export { BULLMQ_QUEUE_CAPABILITIES, createBullmqQueue } from "./queue.js";
