import { isConveyorError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

/** `undefined` cannot be stored: it would read back as a miss. */
export function undefinedValuesTests(suite: CacheSuite): void {
  describe("undefined values", () => {
    it("set refuses undefined with a ValidationError and stores nothing", async () => {
      const cache = await suite.create();
      let error: unknown;
      try {
        await cache.set("nothing", undefined);
      } catch (caught) {
        error = caught;
      }
      expect(isConveyorError(error)).toBe(true);
      expect((error as Error).name).toBe("ValidationError");
      expect(await cache.has("nothing")).toBe(false);
    });

    it("null is a value, not a miss", async () => {
      const cache = await suite.create();
      await cache.set("empty", null);
      expect(await cache.get("empty")).toBeNull();
      expect(await cache.has("empty")).toBe(true);
    });
  });
}
