/**
 * The queue sides of `bench:adapters` (see adapters.ts): Conveyor on `@conveyor/bullmq` and on
 * `@conveyor/bee-queue`, the whole platform as an application runs it, and an add-one-by-one
 * measurement for them and for the bare libraries (whose throughput and latency rounds are the
 * Redis benchmark's, redis-bullmq.ts and redis-bee-queue.ts).
 */
import { createBeeQueue } from "@conveyor/bee-queue";
import { createBullmqQueue } from "@conveyor/bullmq";
import { silentLogger } from "@conveyor/core";
import BeeQueue from "bee-queue";
import { Queue } from "bullmq";
import { beeQueueSystem } from "./redis-bee-queue.js";
import { bullmqSystem } from "./redis-bullmq.js";
import { conveyorSide, type QueueSide, timeOneByOne } from "./redis-conveyor.js";
import type { RedisJobInput } from "./redis-system.js";

export type { QueueSide } from "./redis-conveyor.js";

/** A bare library and Conveyor on its adapter, measured side by side. */
export interface QueuePair {
  readonly key: string;
  readonly bare: QueueSide;
  readonly ours: QueueSide;
}

const quiet = { log: silentLogger, checkPersistence: false } as const;

/** Bare BullMQ against Conveyor on `@conveyor/bullmq`. */
export const bullmqPair: QueuePair = {
  key: "bullmq",
  bare: {
    ...bullmqSystem,
    async addOneByOne(round, inputs) {
      const queue = new Queue<RedisJobInput>(round.name, {
        connection: { host: round.host, port: round.port },
      });
      try {
        await queue.waitUntilReady();
        return await timeOneByOne(inputs, (input) => queue.add("noop", input));
      } finally {
        await queue.close();
      }
    },
  },
  ours: conveyorSide("Conveyor bullmq", (round) =>
    createBullmqQueue({ url: round.url, prefix: round.name, ...quiet }),
  ),
};

/** Bare Bee-Queue against Conveyor on `@conveyor/bee-queue`. */
export const beeQueuePair: QueuePair = {
  key: "bee-queue",
  bare: {
    ...beeQueueSystem,
    async addOneByOne(round, inputs) {
      const queue = new BeeQueue<RedisJobInput>(round.name, {
        redis: { host: round.host, port: round.port },
        isWorker: false,
        getEvents: false,
      });
      try {
        await queue.ready();
        return await timeOneByOne(inputs, (input) => queue.createJob(input).save());
      } finally {
        await queue.close();
      }
    },
  },
  ours: conveyorSide("Conveyor bee-queue", (round) =>
    createBeeQueue({ url: round.url, prefix: round.name, ...quiet }),
  ),
};
