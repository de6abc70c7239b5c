import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, registerAdapter, type TieredCache } from "@conveyor/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

// The adapters from source; the registry would otherwise load their builds.
beforeAll(() => {
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("worker heartbeats on a tiered cache with a process-local memory tier", () => {
  it("every platform sees every worker: the registry skips the local tier", async () => {
    const folder = mkdtempSync(join(tmpdir(), "conveyor-tiered-workers-"));
    closers.push(async () => rmSync(folder, { recursive: true, force: true }));
    // memory:// without a name is private to each platform, as a memory tier is to each process.
    const open = async () => {
      const conveyor: Conveyor = await createConveyor({
        queue: `disk://${folder}`,
        cache: `memory://?max=100,disk://${folder}`,
        rateLimiter: "memory://",
        heartbeat: { intervalMs: 40 },
        logger: false,
        env: false,
      });
      closers.push(() => conveyor.close());
      return conveyor;
    };
    const [a, b, observer] = await Promise.all([open(), open(), open()]);
    const cache = a.cache as TieredCache;
    expect(cache.shared()?.tiers.map((t) => t.name)).toEqual(["disk"]);
    const workers = [a.worker({ queues: ["w"] }), b.worker({ queues: ["w"] })];
    closers.push(async () => {
      for (const worker of workers) await worker.close();
    });
    const ids = workers.map((w) => w.id).sort();
    // Many heartbeats of both, read back all along: no beat may drop the other worker.
    await sleep(100);
    for (let i = 0; i < 15; i++) {
      expect((await observer.workers()).map((w) => w.id).sort()).toEqual(ids);
      await sleep(25);
    }
  });

  it("shared() is the cache itself without local tiers, and undefined with only local ones", async () => {
    const folder = mkdtempSync(join(tmpdir(), "conveyor-tiered-workers-"));
    closers.push(async () => rmSync(folder, { recursive: true, force: true }));
    const onlyShared = await createConveyor({
      cache: `disk://${folder},disk://${folder}?namespace=b`,
      env: false,
      logger: false,
    });
    closers.push(() => onlyShared.close());
    const tiered = onlyShared.cache as TieredCache;
    expect(tiered.shared()).toBe(tiered);
    const onlyLocal = await createConveyor({
      cache: "memory://?max=10,memory://x",
      env: false,
      logger: false,
    });
    closers.push(() => onlyLocal.close());
    expect((onlyLocal.cache as TieredCache).shared()).toBeUndefined();
  });
});
