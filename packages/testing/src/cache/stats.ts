import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** Counters since creation: hits, misses, sets, deletes. */
export function statsTests(suite: CacheSuite): void {
  describe("stats", () => {
    it("a new cache starts with zero counters and names itself", async () => {
      const cache = await suite.create();
      const stats = await cache.stats();
      expect(stats).toMatchObject({ hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 });
      expect(typeof stats.name).toBe("string");
      expect(stats.name.length).toBeGreaterThan(0);
    });

    it("gets count hits and misses, sets and deletes are counted, has() counts nothing", async () => {
      const cache = await suite.create();
      await cache.set("a", 1);
      await cache.set("b", 2);
      await cache.set("a", 3);
      await cache.get("a");
      await cache.get("b");
      await cache.get("missing");
      await cache.has("a");
      await cache.has("missing");
      await cache.delete("a");
      const stats = await cache.stats();
      expect(stats).toMatchObject({ hits: 2, misses: 1, sets: 3, deletes: 1, errors: 0 });
      if (stats.size !== undefined) expect(stats.size).toBe(1);
    });
  });
}
