import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** get, set, has and delete on one cache. */
export function basicTests(suite: CacheSuite): void {
  describe("get, set, has, delete", () => {
    it("a missing key reads as undefined and has() is false", async () => {
      const cache = await suite.create();
      expect(await cache.get("missing")).toBeUndefined();
      expect(await cache.has("missing")).toBe(false);
      expect(typeof cache.name).toBe("string");
      expect(cache.name.length).toBeGreaterThan(0);
    });

    it("a value set is read back and has() is true", async () => {
      const cache = await suite.create();
      await cache.set("greeting", { text: "hello" });
      expect(await cache.get("greeting")).toEqual({ text: "hello" });
      expect(await cache.has("greeting")).toBe(true);
    });

    it("set overwrites the previous value", async () => {
      const cache = await suite.create();
      await cache.set("counter", 1);
      await cache.set("counter", 2);
      expect(await cache.get("counter")).toBe(2);
    });

    it("delete answers whether the key existed and removes it", async () => {
      const cache = await suite.create();
      await cache.set("doomed", "value");
      await cache.set("kept", "value");
      expect(await cache.delete("doomed")).toBe(true);
      expect(await cache.get("doomed")).toBeUndefined();
      expect(await cache.has("doomed")).toBe(false);
      expect(await cache.delete("doomed")).toBe(false);
      expect(await cache.delete("never-set")).toBe(false);
      expect(await cache.get("kept")).toBe("value");
    });

    it("keys are independent, including ones that share a prefix", async () => {
      const cache = await suite.create();
      await cache.set("user:1", "a");
      await cache.set("user:10", "b");
      await cache.set("user:1:profile", "c");
      expect(await cache.get("user:1")).toBe("a");
      expect(await cache.get("user:10")).toBe("b");
      expect(await cache.get("user:1:profile")).toBe("c");
      await cache.delete("user:1");
      expect(await cache.get("user:10")).toBe("b");
      expect(await cache.get("user:1:profile")).toBe("c");
    });
  });
}
