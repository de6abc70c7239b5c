import { describe } from "vitest";
import { type CacheConformanceOptions, resolveTimeScale } from "../conformance.js";
import { basicTests } from "./basic.js";
import { copiesTests } from "./copies.js";
import { type CacheSuite, createCacheSuite } from "./kit.js";
import { manyTests } from "./many.js";
import { namespacesTests } from "./namespaces.js";
import { statsTests } from "./stats.js";
import { ttlTests } from "./ttl.js";
import { undefinedValuesTests } from "./undefined-values.js";
import { valuesTests } from "./values.js";

const BEHAVIOURS: readonly ((suite: CacheSuite) => void)[] = [
  basicTests,
  ttlTests,
  manyTests,
  namespacesTests,
  copiesTests,
  undefinedValuesTests,
  statsTests,
  valuesTests,
];

/**
 * Registers the cache conformance suite: get/set/has/delete, TTLs, getMany/setMany, namespaces
 * and `clear`, copy semantics, refusal of `undefined`, stats and JSON round-trips. Every cache
 * is created with a random namespace and closed after its test.
 *
 * @example
 * ```ts
 * // adapters/memory/test/cache-conformance.test.ts
 * import { createMemoryCache } from "@conveyor/memory";
 * import { runCacheConformance } from "@conveyor/testing";
 *
 * runCacheConformance({ name: "memory", create: ({ namespace }) => createMemoryCache({ namespace }) });
 * ```
 */
export function runCacheConformance(options: CacheConformanceOptions): void {
  const timeScale = resolveTimeScale(options.timeScale);
  describe(`cache conformance: ${options.name}`, () => {
    const suite = createCacheSuite(options, timeScale);
    for (const register of BEHAVIOURS) register(suite);
  });
}
