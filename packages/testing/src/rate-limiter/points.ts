import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** `points` per window per key: granted one by one, then refused. */
export function pointsTests(suite: RateLimiterSuite): void {
  describe("points per window", () => {
    it("grants exactly `points` consumes, counting remaining down and consumed up, then refuses", async () => {
      const limiter = await suite.create();
      const limit = { points: 5, durationMs: suite.ms(60_000) };
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await limiter.consume("k", limit));
      expect(answers.map((a) => a.allowed)).toEqual([true, true, true, true, true]);
      expect(answers.map((a) => a.remaining)).toEqual([4, 3, 2, 1, 0]);
      expect(answers.map((a) => a.consumed)).toEqual([1, 2, 3, 4, 5]);

      const refused = await limiter.consume("k", limit);
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBe(0);
      expect(refused.consumed).toBe(5);
      expect(refused.resetMs).toBeGreaterThan(0);
      expect(refused.resetMs).toBeLessThanOrEqual(limit.durationMs);
      expect((await limiter.consume("k", limit)).allowed).toBe(false);
    });

    it("resetMs of a granted consume is within the window", async () => {
      const limiter = await suite.create();
      const limit = { points: 3, durationMs: suite.ms(10_000) };
      const answer = await limiter.consume("k", limit);
      expect(answer.allowed).toBe(true);
      expect(answer.resetMs).toBeGreaterThan(0);
      expect(answer.resetMs).toBeLessThanOrEqual(limit.durationMs);
      expect(typeof limiter.name).toBe("string");
      expect(limiter.name.length).toBeGreaterThan(0);
    });
  });
}
