import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** Entries with a TTL are never returned after it; entries without one stay. */
export function ttlTests(suite: CacheSuite): void {
  describe("TTL", () => {
    it("an entry with ttlMs is readable before it expires and gone after", async () => {
      const cache = await suite.create();
      await cache.set("brief", "here", { ttlMs: suite.ms(150) });
      expect(await cache.get("brief")).toBe("here");
      await suite.waitFor(async () => (await cache.get("brief")) === undefined, "the entry to expire");
      expect(await cache.has("brief")).toBe(false);
    });

    it("an entry without ttlMs outlives entries that expire", async () => {
      const cache = await suite.create();
      await cache.set("forever", "stays");
      await cache.set("brief", "goes", { ttlMs: suite.ms(50) });
      await suite.waitFor(async () => !(await cache.has("brief")), "the short entry to expire");
      expect(await cache.get("forever")).toBe("stays");
    });

    it("setMany applies each entry's own ttlMs", async () => {
      const cache = await suite.create();
      await cache.setMany([
        { key: "short", value: 1, ttlMs: suite.ms(50) },
        { key: "long", value: 2, ttlMs: suite.ms(60_000) },
        { key: "none", value: 3 },
      ]);
      expect(await cache.getMany(["short", "long", "none"])).toEqual([1, 2, 3]);
      await suite.waitFor(async () => (await cache.get("short")) === undefined, "the short entry to expire");
      expect(await cache.getMany(["short", "long", "none"])).toEqual([undefined, 2, 3]);
    });
  });
}
