import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, registerAdapter } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { forkFixture, type IpcChild, killIpcChildren } from "../support/ipc.js";
import { KEYS, openApp, produce, QUEUE, type SquareResult, useCache } from "./fixtures/app.js";

/**
 * One app — a producer, two workers, a cache user — run unchanged on each backend: only the
 * URLs differ. `processes: false` runs the four roles as four platforms in this process (an
 * in-process backend is shared by nothing else); otherwise each role is its own process.
 */
interface Backend {
  name: string;
  processes: boolean;
  urls(env: { redis: string; folder: string; prefix: string }): {
    queue: string;
    cache: string;
    rateLimiter: string;
  };
}

const BACKENDS: Backend[] = [
  {
    name: "memory://",
    processes: false,
    urls: ({ prefix }) => ({
      queue: `memory://${prefix}`,
      cache: `memory://${prefix}`,
      rateLimiter: `memory://${prefix}`,
    }),
  },
  {
    name: "disk://",
    processes: true,
    urls: ({ folder }) => ({
      queue: `disk://${folder}`,
      cache: `disk://${folder}`,
      rateLimiter: "memory://",
    }),
  },
  {
    name: "redis:// (raw Redis queue)",
    processes: true,
    urls: ({ redis, prefix }) => ({
      queue: `${redis}?prefix=${prefix}:`,
      cache: `${redis}?namespace=${prefix}`,
      rateLimiter: `${redis}?prefix=${prefix}:rl:`,
    }),
  },
  {
    name: "redis:// queue with a tiered cache (memory → redis → disk)",
    processes: true,
    urls: ({ redis, folder, prefix }) => ({
      queue: `${redis}?prefix=${prefix}:`,
      cache: `memory://?max=1000,${redis}?namespace=${prefix},disk://${folder}?namespace=${prefix}`,
      rateLimiter: `${redis}?prefix=${prefix}:rl:`,
    }),
  },
  // Each Redis-backed queue adapter is one more entry (and its source mapped in fixtures/node.ts
  // and fixtures/tsconfig.json): only the queue URL changes.
  {
    name: "bullmq+redis:// (BullMQ)",
    processes: true,
    urls: ({ redis, prefix }) => ({
      queue: `bullmq+${redis}?prefix=${prefix}`,
      cache: `${redis}?namespace=${prefix}`,
      rateLimiter: `${redis}?prefix=${prefix}:rl:`,
    }),
  },
  {
    name: "bee-queue+redis:// (Bee-Queue)",
    processes: true,
    urls: ({ redis, prefix }) => ({
      queue: `bee-queue+${redis}?prefix=${prefix}`,
      cache: `${redis}?namespace=${prefix}`,
      rateLimiter: `${redis}?prefix=${prefix}:rl:`,
    }),
  },
];

const JOBS = 160;

type Child = IpcChild;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await killIpcChildren();
});

function start(env: NodeJS.ProcessEnv, role: string, node: string, ...args: string[]): Child {
  return forkFixture("integration", "node.ts", [role, node, ...args], {
    name: `${role} ${node}`,
    env,
    messageTimeoutMs: 60_000,
  });
}

/** Sets the CONVEYOR_* env vars for platforms opened in this process while `run` runs. */
async function withEnv<T>(env: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await run();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

let redis: RedisServerHandle;
beforeAll(async () => {
  // This process's platforms use the adapters' sources too, as the child processes do.
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
  registerAdapter("redis", { packageName: "@conveyor/redis", load: () => import("@conveyor/redis") });
  registerAdapter("bullmq+redis", {
    packageName: "@conveyor/bullmq",
    load: () => import("@conveyor/bullmq"),
  });
  registerAdapter("bee-queue+redis", {
    packageName: "@conveyor/bee-queue",
    load: () => import("@conveyor/bee-queue"),
  });
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

describe("one app on every backend, only the URLs changed", { timeout: 120_000 }, () => {
  for (const backend of BACKENDS) {
    it(`${backend.name}: a producer, two workers and a cache user share the work and the cache`, async () => {
      const folder = mkdtempSync(join(tmpdir(), "conveyor-integration-"));
      closers.push(async () => rmSync(folder, { recursive: true, force: true }));
      const prefix = randomPrefix();
      const urls = backend.urls({ redis: redis.url, folder, prefix });
      const env = {
        CONVEYOR_QUEUE_URL: urls.queue,
        CONVEYOR_CACHE_URL: urls.cache,
        CONVEYOR_RATE_LIMIT_URL: urls.rateLimiter,
      };

      await withEnv(env, async () => {
        // The test's own view: a platform on the same URLs, to wait for results.
        const observer: Conveyor = await openApp("observer");
        closers.push(() => observer.close());
        let ids: string[];
        let seen: { found: number; wrong: number };
        if (backend.processes) {
          const workers = [start(env, "worker", "worker-a"), start(env, "worker", "worker-b")];
          await Promise.all(workers.map((w) => w.message("ready")));
          const producer = start(env, "produce", "producer", String(JOBS));
          ({ ids } = await producer.message<{ ids: string[] }>("done"));
          const results = await Promise.all(
            ids.map((id) => observer.job<SquareResult>(id).result({ timeoutMs: 60_000 })),
          );
          check(results);
          const user = start(env, "cache-user", "cache-user");
          seen = await user.message<{ found: number; wrong: number }>("done");
          for (const w of workers) w.process.send("close");
          await Promise.all(workers.map((w) => w.message("done")));
        } else {
          const [a, b, producer, user] = await Promise.all(
            ["worker-a", "worker-b", "producer", "cache-user"].map((node) => openApp(node)),
          );
          closers.push(async () => {
            for (const platform of [a, b, producer, user]) await platform?.close();
          });
          const workers = [
            a!.worker({ queues: [QUEUE], concurrency: 4 }),
            b!.worker({ queues: [QUEUE], concurrency: 4 }),
          ];
          ids = await produce(producer!, JOBS);
          check(
            await Promise.all(ids.map((id) => observer.job<SquareResult>(id).result({ timeoutMs: 60_000 }))),
          );
          seen = await useCache(user!, "cache-user");
          await Promise.all(workers.map((w) => w.close({ drain: true })));
        }
        expect(ids).toHaveLength(JOBS);
        // What the workers cached is what the cache user reads, whichever process wrote it.
        expect(seen).toMatchObject({ found: KEYS, wrong: 0 });
        expect(await observer.cache.get("app:note")).toEqual({ from: "cache-user" });
        expect(await observer.counts(QUEUE)).toMatchObject({
          completed: JOBS,
          failed: 0,
          active: 0,
          waiting: 0,
        });
      });
    });
  }
});

function check(results: SquareResult[]): void {
  expect(results).toHaveLength(JOBS);
  results.forEach((result, n) => {
    expect(result).toMatchObject({ n, value: (n % KEYS) ** 2 });
  });
  // Both workers took part, and the cache spared most of the work.
  const nodes = new Set(results.map((r) => r.node));
  expect([...nodes].sort()).toEqual(["worker-a", "worker-b"]);
  expect(results.filter((r) => r.hit).length).toBeGreaterThanOrEqual(JOBS - KEYS * 2);
}
