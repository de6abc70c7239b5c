import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type Cache,
  type Conveyor,
  createConveyor,
  type Logger,
  type QueueAdapter,
  type RateLimiter,
  silentLogger,
} from "@conveyor/core";
import { createDiskCache, createDiskQueue } from "@conveyor/disk";
import { createMemoryRateLimiter } from "@conveyor/memory";
import {
  type ApertiumEngine,
  apertium,
  type TranslateBatchResult,
  type TranslateFileResult,
  translation,
} from "@conveyor/plugin-translation";
import { createRedisCache, createRedisQueue, createRedisRateLimiter } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// The plugin on the persistent backends: the same tasks, the same cache semantics, and the
// Apertium pipeline loaded only by the process that works.
const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, "fixtures");

const SENTENCES = [
  "The dog eats the apple.",
  "The cat sees the bird in the garden.",
  "The teacher reads a book in the evening.",
  "My children love the river.",
  "The farmer buys bread in the city.",
  "The doctor finds the letter on the table.",
];

let reference: ApertiumEngine;
let redis: RedisServerHandle;
beforeAll(async () => {
  reference = await apertium().load();
  redis = await startRedisServer();
});
afterAll(async () => {
  await reference.close();
  await redis?.stop();
});

const closers: (() => Promise<void>)[] = [];
const folders: string[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const path = realpathSync(mkdtempSync(join(tmpdir(), "conveyor-translation-")));
  folders.push(path);
  return path;
}

function recording(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

interface Backend {
  queue: QueueAdapter;
  cache: Cache;
  rateLimiter: RateLimiter;
}

const BACKENDS: Record<string, (dir: string) => Backend> = {
  disk: (dir) => ({
    queue: createDiskQueue({ path: dir }),
    cache: createDiskCache({ path: dir }),
    rateLimiter: createMemoryRateLimiter(),
  }),
  redis: () => {
    const prefix = randomPrefix();
    return {
      queue: createRedisQueue({ url: redis.url, prefix, log: silentLogger }),
      cache: createRedisCache({ url: redis.url, namespace: prefix, log: silentLogger }),
      rateLimiter: createRedisRateLimiter({ url: redis.url, prefix, log: silentLogger }),
    };
  },
};

async function open(backend: Backend, root: string, logger: Logger | false = false): Promise<Conveyor> {
  const conveyor = await createConveyor({
    ...backend,
    plugins: [translation({ roots: [root], chunkSize: 4 })],
    logger,
    env: false,
  });
  const worker = conveyor.worker({ concurrency: 3 });
  closers.push(async () => {
    await worker.close({ drain: false });
    await conveyor.close();
    // Backends passed in as instances are the caller's to close.
    await Promise.all([backend.queue.close(), backend.cache.close(), backend.rateLimiter.close()]);
  });
  return conveyor;
}

describe.each(Object.keys(BACKENDS))("translation on %s", (name) => {
  it("translates batches with the real engine, the second run from the backend's cache", async () => {
    const dir = folder();
    const { logger, lines } = recording();
    const conveyor = await open(BACKENDS[name]!(dir), dir, logger);
    const expected = await reference.translate(SENTENCES, { from: "en", to: "es" });
    const jobs = await Promise.all(
      [0, 2, 4].map((start) =>
        conveyor.enqueue<TranslateBatchResult>("translation.translateBatch", {
          texts: SENTENCES.slice(start, start + 2),
          from: "en",
          to: "es",
        }),
      ),
    );
    const first = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 20_000 })));
    expect(first.flatMap((result) => result.texts)).toEqual(expected);
    const again = await (
      await conveyor.enqueue<TranslateBatchResult>("translation.translateBatch", {
        texts: SENTENCES,
        from: "en",
        to: "es",
      })
    ).result({ timeoutMs: 20_000 });
    expect(again.texts).toEqual(expected);
    expect(again.cache).toEqual({ hits: SENTENCES.length, misses: 0 });
    expect(lines.filter((line) => line === "translation engine loaded")).toHaveLength(1);
    expect(lines.filter((line) => line === "apertium pipeline started")).toHaveLength(1);
  });

  it("translates a CSV file with progress in rows", async () => {
    const dir = folder();
    writeFileSync(join(dir, "in.csv"), `id,text\n${SENTENCES.map((s, i) => `${i},${s}`).join("\n")}\n`);
    const conveyor = await open(BACKENDS[name]!(dir), dir);
    const job = await conveyor.enqueue<TranslateFileResult>("translation.translateFile", {
      input: "in.csv",
      output: "out.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    const result = await job.result({ timeoutMs: 20_000 });
    expect(result.rows).toBe(SENTENCES.length);
    expect((await job.progress())?.current).toBe(SENTENCES.length);
    const expected = await reference.translate(SENTENCES, { from: "en", to: "es" });
    expect(readFileSync(join(dir, "out.csv"), "utf8")).toBe(
      `id,text\n${expected.map((s, i) => `${i},${s.includes(",") ? `"${s}"` : s}`).join("\n")}\n`,
    );
  });
});

describe("a process that only enqueues (disk backend)", () => {
  it("never loads the engine; the worker process loads it once for every job", async () => {
    const dir = folder();
    const produced = await Promise.all(
      [0, 3].map(async (start) => {
        const { stdout } = await run(
          process.execPath,
          [
            "--import",
            "tsx",
            join(FIXTURES, "enqueue.ts"),
            dir,
            JSON.stringify({ texts: SENTENCES.slice(start, start + 3), from: "en", to: "es" }),
          ],
          {
            cwd: join(import.meta.dirname, ".."),
            env: { ...process.env, TSX_TSCONFIG_PATH: join(FIXTURES, "tsconfig.json") },
            timeout: 60_000,
          },
        );
        return JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
          id: string;
          lines: string[];
          children: string[];
        };
      }),
    );
    for (const child of produced) {
      expect(child.lines).toEqual([]);
      expect(child.children.filter((command) => /apertium|lt-proc|bash/.test(command))).toEqual([]);
    }
    const { logger, lines } = recording();
    const conveyor = await open(BACKENDS.disk!(dir), dir, logger);
    const results = await Promise.all(
      produced.map(async ({ id }) => conveyor.job<TranslateBatchResult>(id).result({ timeoutMs: 30_000 })),
    );
    expect(results.flatMap((result) => result.texts)).toEqual(
      await reference.translate(SENTENCES, { from: "en", to: "es" }),
    );
    expect(lines.filter((line) => line === "translation engine loaded")).toHaveLength(1);
  }, 90_000);
});
