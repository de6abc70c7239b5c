import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** Keys are counted independently. */
export function keysTests(suite: RateLimiterSuite): void {
  describe("independent keys", () => {
    it("exhausting one key leaves other keys their full points", async () => {
      const limiter = await suite.create();
      const limit = { points: 2, durationMs: suite.ms(60_000) };
      await limiter.consume("tenant:a", limit);
      await limiter.consume("tenant:a", limit);
      expect((await limiter.consume("tenant:a", limit)).allowed).toBe(false);
      expect(await limiter.consume("tenant:b", limit)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.consume("tenant:ab", limit)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.peek("tenant:", limit)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it("two limiters with different prefixes do not share counts", async () => {
      const first = await suite.create();
      const second = await suite.create();
      const limit = { points: 1, durationMs: suite.ms(60_000) };
      expect((await first.consume("same-key", limit)).allowed).toBe(true);
      expect((await first.consume("same-key", limit)).allowed).toBe(false);
      expect((await second.consume("same-key", limit)).allowed).toBe(true);
    });
  });
}
