import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** getMany and setMany. */
export function manyTests(suite: CacheSuite): void {
  describe("getMany and setMany", () => {
    it("getMany answers in the order of its keys, undefined for each miss", async () => {
      const cache = await suite.create();
      await cache.set("a", "A");
      await cache.set("b", { value: "B" });
      expect(await cache.getMany(["b", "missing", "a", "b", "also-missing"])).toEqual([
        { value: "B" },
        undefined,
        "A",
        { value: "B" },
        undefined,
      ]);
    });

    it("setMany stores every entry", async () => {
      const cache = await suite.create();
      const entries = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: { i } }));
      await cache.setMany(entries);
      for (const { key, value } of entries) expect(await cache.get(key)).toEqual(value);
      expect(await cache.getMany(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value));
    });

    it("getMany and setMany of nothing do nothing", async () => {
      const cache = await suite.create();
      await cache.setMany([]);
      expect(await cache.getMany([])).toEqual([]);
    });
  });
}
