import { describe } from "vitest";
import { type RateLimiterConformanceOptions, resolveTimeScale } from "../conformance.js";
import { atomicTests } from "./atomic.js";
import { blockTests } from "./block.js";
import { costTests } from "./cost.js";
import { keysTests } from "./keys.js";
import { createRateLimiterSuite, type RateLimiterSuite } from "./kit.js";
import { peekTests } from "./peek.js";
import { pointsTests } from "./points.js";
import { resetTests } from "./reset.js";
import { windowTests } from "./window.js";

const BEHAVIOURS: readonly ((suite: RateLimiterSuite) => void)[] = [
  pointsTests,
  windowTests,
  keysTests,
  costTests,
  blockTests,
  peekTests,
  resetTests,
  atomicTests,
];

/**
 * Registers the rate-limiter conformance suite: points per window, remaining and resetMs, window
 * reset, independent keys, cost, blockDurationMs, peek, reset and atomicity under concurrency.
 * Every limiter is created with a random prefix and closed after its test.
 *
 * @example
 * ```ts
 * // adapters/memory/test/rate-limiter-conformance.test.ts
 * import { createMemoryRateLimiter } from "@conveyor/memory";
 * import { runRateLimiterConformance } from "@conveyor/testing";
 *
 * runRateLimiterConformance({ name: "memory", create: () => createMemoryRateLimiter() });
 * ```
 */
export function runRateLimiterConformance(options: RateLimiterConformanceOptions): void {
  const timeScale = resolveTimeScale(options.timeScale);
  describe(`rate limiter conformance: ${options.name}`, () => {
    const suite = createRateLimiterSuite(options, timeScale);
    for (const register of BEHAVIOURS) register(suite);
  });
}
