import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import type { RateLimiterSuite } from "./kit.js";

/** blockDurationMs refuses an exhausted key for that long, past the end of its window. */
export function blockTests(suite: RateLimiterSuite): void {
  describe("blockDurationMs", () => {
    it("an exhausted key stays refused for blockDurationMs, then is granted again", async () => {
      const limiter = await suite.create();
      const limit = { points: 1, durationMs: suite.ms(50), blockDurationMs: suite.ms(400) };
      expect((await limiter.consume("k", limit)).allowed).toBe(true);
      const blocked = await limiter.consume("k", limit);
      expect(blocked.allowed).toBe(false);
      expect(blocked.resetMs).toBeGreaterThan(limit.durationMs);
      expect(blocked.resetMs).toBeLessThanOrEqual(limit.blockDurationMs);

      // The window has ended, the block has not.
      await sleep(suite.ms(150));
      const stillBlocked = await limiter.consume("k", limit);
      expect(stillBlocked.allowed).toBe(false);
      expect(stillBlocked.resetMs).toBeGreaterThan(0);

      await suite.waitFor(async () => (await limiter.peek("k", limit)).allowed, "the block to end");
      expect((await limiter.consume("k", limit)).allowed).toBe(true);
    });

    it("without blockDurationMs the key is refused only until its window ends", async () => {
      const limiter = await suite.create();
      const limit = { points: 1, durationMs: suite.ms(100) };
      await limiter.consume("k", limit);
      const refused = await limiter.consume("k", limit);
      expect(refused.allowed).toBe(false);
      expect(refused.resetMs).toBeLessThanOrEqual(limit.durationMs);
    });
  });
}
