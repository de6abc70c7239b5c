export { conveyorAdapter } from "./adapter-module.js";
export type { DiskCacheOptions } from "./cache.js";
export { createDiskCache } from "./cache.js";
export type { Durability } from "./database.js";
export { diagnoseDisk } from "./diagnose.js";
export type { DiskLocation } from "./location.js";
export type { DiskQueueOptions } from "./queue.js";
export { createDiskQueue, DISK_QUEUE_CAPABILITIES } from "./queue.js";
