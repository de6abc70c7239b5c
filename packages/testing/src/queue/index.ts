import type { QueueCapabilities } from "@conveyor/core";
import { describe } from "vitest";
import { type QueueConformanceOptions, randomPrefix, resolveTimeScale } from "../conformance.js";
import { addAndDedupeTests } from "./add-and-dedupe.js";
import { bulkTests } from "./bulk.js";
import { cancelTests } from "./cancel.js";
import { concurrencyTests } from "./concurrency.js";
import { countsAndListTests } from "./counts-and-list.js";
import { delayedTests } from "./delayed.js";
import { eventsTests } from "./events.js";
import { createQueueSuite, type QueueSuite } from "./kit.js";
import { manualRetryTests } from "./manual-retry.js";
import { namedQueuesTests } from "./named-queues.js";
import { orderingTests } from "./ordering.js";
import { pauseTests } from "./pause.js";
import { progressTests } from "./progress.js";
import { purgeAndRemoveTests } from "./purge-and-remove.js";
import { rateLimitTests } from "./rate-limit.js";
import { resourcesTests } from "./resources.js";
import { resultsTtlTests } from "./results-ttl.js";
import { retriesTests } from "./retries.js";
import { taskCacheTests } from "./task-cache.js";
import { timeoutsTests } from "./timeouts.js";
import { unknownTaskTests } from "./unknown-task.js";
import { validationTests } from "./validation.js";
import { workerCloseTests } from "./worker-close.js";

/** Every behaviour of the queue suite, one file each, in the order they are reported. */
const BEHAVIOURS: readonly ((suite: QueueSuite) => void)[] = [
  addAndDedupeTests,
  bulkTests,
  orderingTests,
  delayedTests,
  namedQueuesTests,
  concurrencyTests,
  retriesTests,
  manualRetryTests,
  timeoutsTests,
  cancelTests,
  validationTests,
  unknownTaskTests,
  workerCloseTests,
  progressTests,
  eventsTests,
  resultsTtlTests,
  pauseTests,
  purgeAndRemoveTests,
  countsAndListTests,
  rateLimitTests,
  taskCacheTests,
  resourcesTests,
];

async function probeCapabilities(options: QueueConformanceOptions): Promise<QueueCapabilities> {
  const probe = await options.queue({ prefix: randomPrefix() });
  try {
    return { ...probe.capabilities };
  } finally {
    await probe.close();
  }
}

/**
 * Registers the queue conformance suite: the job semantics every queue adapter must keep, run
 * through `createConveyor` (enqueue, workers, handles) and through the adapter where the
 * adapter contract itself is under test. Each test gets a fresh adapter, cache and rate limiter
 * made with a random prefix, and closes them afterwards. Tests that need a capability the adapter
 * does not declare are reported as skipped; tests of the loud failure for a missing capability run
 * instead.
 *
 * Call it at the top level of a test file; unless `capabilities` is given, one adapter is created
 * while the tests are collected to read its capabilities, then closed.
 *
 * @example
 * ```ts
 * // adapters/memory/test/conformance.test.ts
 * import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
 * import { runQueueConformance } from "@conveyor/testing";
 *
 * runQueueConformance({
 *   name: "memory",
 *   queue: () => createMemoryQueue(),
 *   cache: () => createMemoryCache(),
 *   rateLimiter: () => createMemoryRateLimiter(),
 * });
 * ```
 */
export function runQueueConformance(options: QueueConformanceOptions): void {
  const timeScale = resolveTimeScale(options.timeScale);
  describe(`queue conformance: ${options.name}`, async () => {
    const capabilities = options.capabilities ?? (await probeCapabilities(options));
    const suite = createQueueSuite(options, capabilities, timeScale);
    for (const register of BEHAVIOURS) register(suite);
  });
}
