import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { runScheduleConformance } from "@conveyor/testing";

// Memory queues of one store name share their schedules, as processes sharing a backend would.
runScheduleConformance({
  name: "memory",
  queue: ({ prefix }) => createMemoryQueue({ store: prefix }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
