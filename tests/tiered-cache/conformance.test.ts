import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTieredCache, silentLogger } from "@conveyor/core";
import { createDiskCache } from "@conveyor/disk";
import { createMemoryCache } from "@conveyor/memory";
import { createRedisCache } from "@conveyor/redis";
import { type RedisConnection, runCacheConformance, useRedis } from "@conveyor/testing";
import { afterAll, beforeAll } from "vitest";

// The tiered cache keeps the Cache contract: the shared suite runs on memory → redis → disk, all
// real, each test in its own namespace on one store per backend.
let redis: RedisConnection;
let folder: string;
beforeAll(async () => {
  redis = await useRedis();
  folder = mkdtempSync(join(tmpdir(), "conveyor-tiered-"));
});
afterAll(async () => {
  await redis?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

runCacheConformance({
  name: "tiered (memory, redis, disk)",
  // Each write goes to three backends, one a SQLite transaction: a 50 ms TTL can run out between
  // a setMany and the read that follows it on a busy machine.
  timeScale: 4,
  create: ({ namespace }) =>
    createTieredCache([
      createMemoryCache({ store: "tiered-conformance", namespace }),
      createRedisCache({ url: redis.url, namespace, log: silentLogger }),
      createDiskCache({ path: folder, namespace }),
    ]),
});
