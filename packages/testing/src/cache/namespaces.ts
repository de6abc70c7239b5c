import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** A cache sees only its namespace: same keys in two namespaces are separate, clear stays inside. */
export function namespacesTests(suite: CacheSuite): void {
  describe("namespaces", () => {
    it("the same key in two namespaces holds two values", async () => {
      const a = await suite.create();
      const b = await suite.create();
      await a.set("shared-key", "from a");
      expect(await b.get("shared-key")).toBeUndefined();
      await b.set("shared-key", "from b");
      expect(await a.get("shared-key")).toBe("from a");
      expect(await b.get("shared-key")).toBe("from b");
      expect(await b.delete("shared-key")).toBe(true);
      expect(await a.get("shared-key")).toBe("from a");
    });

    it("clear removes every entry of its own namespace and nothing else", async () => {
      const a = await suite.create();
      const b = await suite.create();
      await a.setMany([
        { key: "x", value: 1 },
        { key: "y", value: 2 },
      ]);
      await b.setMany([
        { key: "x", value: 10 },
        { key: "z", value: 30 },
      ]);
      await a.clear();
      expect(await a.getMany(["x", "y"])).toEqual([undefined, undefined]);
      expect(await a.has("x")).toBe(false);
      expect(await b.getMany(["x", "z"])).toEqual([10, 30]);
      await a.set("x", "after clear");
      expect(await a.get("x")).toBe("after clear");
    });
  });
}
