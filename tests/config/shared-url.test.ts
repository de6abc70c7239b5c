import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConveyor, type Logger, UnsupportedFeatureError } from "@conveyor/core";
import { type RedisConnection, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (message) => warnings.push(message) };
}

const folders: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-shared-url-"));
  folders.push(dir);
  return dir;
};

let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe("one URL for every contract", () => {
  it("disk:// alone opens every contract: the missing rate limiter falls back to memory://, with a warning", async () => {
    const log = capture();
    const conveyor = await createConveyor({ url: `disk://${folder()}`, env: false, logger: log });
    try {
      expect(conveyor.queue.name).toBe("disk");
      expect(conveyor.cache.name).toBe("disk");
      expect(conveyor.rateLimiter.name).toBe("memory");
      expect(log.warnings.join("\n")).toMatch(
        /has no rate limiter; using memory:\/\/ .*CONVEYOR_RATE_LIMIT_URL/,
      );
    } finally {
      await conveyor.close();
    }
  });

  it("bullmq+redis:// alone takes its cache and limiter from the plain Redis adapter on the same server", async () => {
    const log = capture();
    const url = redis.url.replace(/^redis:/, "bullmq+redis:");
    const conveyor = await createConveyor({ url, env: false, logger: log });
    try {
      expect(conveyor.queue.name).toBe("bullmq");
      expect(conveyor.cache.name).toBe("redis");
      expect(conveyor.rateLimiter.name).toBe("redis");
      const key = `shared-url-${Date.now()}`;
      await conveyor.cache.set(key, "v", { ttlMs: 10_000 });
      expect(await conveyor.cache.get(key)).toBe("v");
      expect(log.warnings.some((w) => w.includes("has no cache; using redis://"))).toBe(true);
    } finally {
      await conveyor.close();
    }
  });

  it("a limiter URL of its own that cannot limit still fails loudly", async () => {
    const dir = folder();
    await expect(
      createConveyor({
        queue: `disk://${dir}`,
        cache: "memory://",
        rateLimiter: `disk://${folder()}`,
        env: false,
        logger: false,
      }),
    ).rejects.toBeInstanceOf(UnsupportedFeatureError);
  });
});
