import { describe } from "vitest";
import { resolveTimeScale } from "../conformance.js";
import { createScheduleSuite, type ScheduleConformanceOptions, type ScheduleSuite } from "./kit.js";
import { leaseTests } from "./lease.js";
import { schedulerTests } from "./scheduler.js";
import { storeTests } from "./store.js";

const BEHAVIOURS: readonly ((suite: ScheduleSuite) => void)[] = [storeTests, leaseTests, schedulerTests];

/**
 * Registers the schedule conformance suite for a queue adapter's schedule store
 * (`queue.schedules`): idempotent upserts, get/list/due/remove, sharing between adapters of one
 * backend, the leader lease and its fencing token, atomic advance, and the core's scheduler on
 * top of it (each tick once with two schedulers, handover, skip and catch-up, cron with a time
 * zone, restarts).
 *
 * @example
 * ```ts
 * // tests/conformance/memory-schedules.test.ts
 * import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
 * import { runScheduleConformance } from "@conveyor/testing";
 *
 * runScheduleConformance({
 *   name: "memory",
 *   queue: ({ prefix }) => createMemoryQueue({ store: prefix }),
 *   cache: () => createMemoryCache(),
 *   rateLimiter: () => createMemoryRateLimiter(),
 * });
 * ```
 */
export function runScheduleConformance(options: ScheduleConformanceOptions): void {
  const timeScale = resolveTimeScale(options.timeScale);
  describe(`schedule conformance: ${options.name}`, () => {
    const suite = createScheduleSuite(options, timeScale);
    for (const register of BEHAVIOURS) register(suite);
  });
}
