import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** peek reports a key's state without consuming. */
export function peekTests(suite: RateLimiterSuite): void {
  describe("peek", () => {
    it("peek on an unused key shows the full limit and consumes nothing, however often it is called", async () => {
      const limiter = await suite.create();
      const limit = { points: 3, durationMs: suite.ms(60_000) };
      for (let i = 0; i < 5; i++) {
        expect(await limiter.peek("k", limit)).toMatchObject({ allowed: true, remaining: 3, consumed: 0 });
      }
      expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it("peek follows consumption and shows an exhausted key as not allowed", async () => {
      const limiter = await suite.create();
      const limit = { points: 2, durationMs: suite.ms(60_000) };
      await limiter.consume("k", limit);
      expect(await limiter.peek("k", limit)).toMatchObject({ allowed: true, remaining: 1, consumed: 1 });
      await limiter.consume("k", limit);
      const exhausted = await limiter.peek("k", limit);
      expect(exhausted).toMatchObject({ allowed: false, remaining: 0, consumed: 2 });
      expect(exhausted.resetMs).toBeGreaterThan(0);
      expect(exhausted.resetMs).toBeLessThanOrEqual(limit.durationMs);
    });
  });
}
