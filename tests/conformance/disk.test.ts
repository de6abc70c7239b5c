import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDiskCache, createDiskQueue } from "@conveyor/disk";
import { createMemoryRateLimiter } from "@conveyor/memory";
import { runCacheConformance, runQueueConformance } from "@conveyor/testing";
import { afterAll } from "vitest";

// One temporary folder for the file, one sub-folder (so one database) per test via its prefix.
const root = mkdtempSync(join(tmpdir(), "conveyor-disk-conformance-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

runQueueConformance({
  name: "disk",
  queue: ({ prefix }) => createDiskQueue({ path: join(root, prefix) }),
  cache: ({ prefix }) => createDiskCache({ path: join(root, prefix) }),
  rateLimiter: () => createMemoryRateLimiter(),
});

// One file for the cache suite, so caches of different namespaces share a backend.
runCacheConformance({
  name: "disk",
  create: ({ namespace }) => createDiskCache({ path: join(root, "cache"), namespace }),
});
