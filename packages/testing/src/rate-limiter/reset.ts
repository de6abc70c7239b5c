import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** reset forgets a key's consumption. */
export function resetTests(suite: RateLimiterSuite): void {
  describe("reset", () => {
    it("reset gives an exhausted key its full points back and leaves other keys alone", async () => {
      const limiter = await suite.create();
      const limit = { points: 2, durationMs: suite.ms(60_000) };
      await limiter.consume("a", limit);
      await limiter.consume("a", limit);
      await limiter.consume("b", limit);
      expect((await limiter.consume("a", limit)).allowed).toBe(false);
      await limiter.reset("a");
      expect(await limiter.consume("a", limit)).toMatchObject({ allowed: true, remaining: 1, consumed: 1 });
      expect(await limiter.peek("b", limit)).toMatchObject({ remaining: 1, consumed: 1 });
    });

    it("reset also ends a block, and resetting an unknown key is harmless", async () => {
      const limiter = await suite.create();
      const limit = { points: 1, durationMs: suite.ms(60_000), blockDurationMs: suite.ms(60_000) };
      await limiter.consume("k", limit);
      expect((await limiter.consume("k", limit)).allowed).toBe(false);
      await limiter.reset("k");
      expect((await limiter.consume("k", limit)).allowed).toBe(true);
      await limiter.reset("never-used");
      expect(await limiter.peek("never-used", limit)).toMatchObject({ allowed: true, remaining: 1 });
    });
  });
}
