import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { describe, expect, it } from "vitest";
import { recordingLogger } from "./helpers.js";

const NO_PERSISTENCE = /has no persistence/;

describe("the startup warning about persistence and eviction", () => {
  it("fires once per server without persistence, whatever the database", async () => {
    const redis = await startRedisServer();
    const { log, warnings } = recordingLogger();
    const cache = createRedisCache({ url: redis.url, namespace: randomPrefix(), log });
    const limiter = createRedisRateLimiter({ url: redis.url, log });
    try {
      await cache.set("k", 1);
      await limiter.consume("k", { points: 1, durationMs: 1_000 });
      await waitFor(() => warnings(NO_PERSISTENCE).length > 0, { message: "the persistence warning" });
      const [warning] = warnings(NO_PERSISTENCE);
      expect(warning!.message).toContain(redis.url);
      expect(warning!.fields).toMatchObject({ appendonly: "no", save: "" });
      // A cache of another database of the same server (another connection) does not warn again.
      const again = createRedisCache({ url: `${redis.url}/2`, namespace: randomPrefix(), log });
      await again.get("k");
      await again.close();
      expect(warnings(NO_PERSISTENCE)).toHaveLength(1);
    } finally {
      await cache.close();
      await limiter.close();
      await redis.stop();
    }
  });

  it("names a maxmemory-policy that may evict", async () => {
    const redis = await startRedisServer({ appendonly: true, args: ["--maxmemory-policy", "allkeys-lru"] });
    const { log, warnings } = recordingLogger();
    const cache = createRedisCache({ url: redis.url, namespace: randomPrefix(), log });
    try {
      await cache.get("k");
      await waitFor(() => warnings().length > 0, { message: "the eviction warning" });
      expect(warnings()[0]!.message).toMatch(/maxmemory-policy is allkeys-lru/);
      expect(warnings(NO_PERSISTENCE)).toHaveLength(0);
    } finally {
      await cache.close();
      await redis.stop();
    }
  });

  it("stays silent on a server with appendonly and noeviction, and when CONFIG is disabled", async () => {
    const durable = await startRedisServer({ appendonly: true, appendfsync: "everysec" });
    const locked = await startRedisServer({ args: ["--rename-command", "CONFIG", ""] });
    const { log, warnings, lines } = recordingLogger();
    const caches = [durable, locked].map((redis) =>
      createRedisCache({ url: redis.url, namespace: randomPrefix(), log }),
    );
    try {
      for (const cache of caches) {
        await cache.set("k", 1);
        expect(await cache.get("k")).toBe(1);
      }
      // The check of the locked server ends in a debug line; by then both checks are done.
      await waitFor(() => lines.some((l) => l.level === "debug" && /could not read/.test(l.message)), {
        message: "the check to give up on the server without CONFIG",
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(warnings()).toEqual([]);
    } finally {
      await Promise.all(caches.map((cache) => cache.close()));
      await durable.stop();
      await locked.stop();
    }
  });
});
