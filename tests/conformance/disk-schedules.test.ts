import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDiskQueue } from "@conveyor/disk";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { runScheduleConformance } from "@conveyor/testing";
import { afterAll } from "vitest";

// One folder (one queue file) per test prefix; two adapters of one prefix share it as two
// processes would.
const root = mkdtempSync(join(tmpdir(), "conveyor-disk-schedules-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

runScheduleConformance({
  name: "disk",
  queue: ({ prefix }) => createDiskQueue({ path: join(root, prefix) }),
  cache: () => createMemoryCache(),
  rateLimiter: () => createMemoryRateLimiter(),
});
