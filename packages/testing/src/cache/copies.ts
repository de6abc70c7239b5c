import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** Values come back equal to what was set, never a shared reference. */
export function copiesTests(suite: CacheSuite): void {
  describe("deep copies", () => {
    it("mutating a value after set does not change the stored one", async () => {
      const cache = await suite.create();
      const value = { list: [1, 2], nested: { flag: true } };
      await cache.set("k", value);
      value.list.push(3);
      value.nested.flag = false;
      expect(await cache.get("k")).toEqual({ list: [1, 2], nested: { flag: true } });
    });

    it("mutating a value returned by get does not change the stored one", async () => {
      const cache = await suite.create();
      await cache.set("k", { list: [1, 2], nested: { flag: true } });
      const first = (await cache.get<{ list: number[]; nested: { flag: boolean } }>("k"))!;
      first.list.push(99);
      first.nested.flag = false;
      const second = await cache.get("k");
      expect(second).toEqual({ list: [1, 2], nested: { flag: true } });
      expect(second).not.toBe(first);
    });

    it("values from getMany and setMany are copies too", async () => {
      const cache = await suite.create();
      const entry = { key: "k", value: { tags: ["a"] } };
      await cache.setMany([entry]);
      entry.value.tags.push("b");
      const [read] = await cache.getMany<{ tags: string[] }>(["k"]);
      expect(read).toEqual({ tags: ["a"] });
      read!.tags.push("c");
      expect(await cache.get("k")).toEqual({ tags: ["a"] });
    });
  });
}
