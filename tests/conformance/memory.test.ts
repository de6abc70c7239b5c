import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import {
  randomPrefix,
  runCacheConformance,
  runQueueConformance,
  runRateLimiterConformance,
} from "@conveyor/testing";

runQueueConformance({
  name: "memory",
  queue: () => createMemoryQueue(),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});

// One named store per file, so caches of different namespaces share a backend, as Redis caches would.
const store = randomPrefix();
runCacheConformance({ name: "memory", create: ({ namespace }) => createMemoryCache({ store, namespace }) });

runRateLimiterConformance({ name: "memory", create: () => createMemoryRateLimiter() });
