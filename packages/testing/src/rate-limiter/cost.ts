import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** A consume may cost more than one point; a refused consume takes nothing. */
export function costTests(suite: RateLimiterSuite): void {
  describe("cost", () => {
    it("a cost above 1 takes that many points; a refused cost takes none", async () => {
      const limiter = await suite.create();
      const limit = { points: 5, durationMs: suite.ms(60_000) };
      expect(await limiter.consume("k", limit, 3)).toMatchObject({
        allowed: true,
        remaining: 2,
        consumed: 3,
      });
      expect(await limiter.consume("k", limit, 3)).toMatchObject({ allowed: false, remaining: 0 });
      expect(await limiter.peek("k", limit)).toMatchObject({ remaining: 2, consumed: 3 });
      expect(await limiter.consume("k", limit, 2)).toMatchObject({
        allowed: true,
        remaining: 0,
        consumed: 5,
      });
      expect((await limiter.consume("k", limit, 1)).allowed).toBe(false);
    });

    it("a cost above the whole limit is refused and leaves the key untouched", async () => {
      const limiter = await suite.create();
      const limit = { points: 4, durationMs: suite.ms(60_000) };
      expect((await limiter.consume("k", limit, 5)).allowed).toBe(false);
      expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, remaining: 3, consumed: 1 });
    });
  });
}
