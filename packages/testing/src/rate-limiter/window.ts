import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import type { RateLimiterSuite } from "./kit.js";

/** The points come back when the window resets. */
export function windowTests(suite: RateLimiterSuite): void {
  describe("window reset", () => {
    it("an exhausted key is granted again once durationMs has passed", async () => {
      const limiter = await suite.create();
      const limit = { points: 2, durationMs: suite.ms(150) };
      await limiter.consume("k", limit);
      await limiter.consume("k", limit);
      expect((await limiter.consume("k", limit)).allowed).toBe(false);
      await suite.waitFor(
        async () => (await limiter.peek("k", limit)).remaining === 2,
        "the window to reset",
      );
      const answer = await limiter.consume("k", limit);
      expect(answer).toMatchObject({ allowed: true, remaining: 1, consumed: 1 });
    });

    it("waiting the resetMs of a refusal is enough to be granted", async () => {
      const limiter = await suite.create();
      const limit = { points: 1, durationMs: suite.ms(120) };
      expect((await limiter.consume("k", limit)).allowed).toBe(true);
      const refused = await limiter.consume("k", limit);
      expect(refused.allowed).toBe(false);
      await sleep(refused.resetMs + suite.ms(15));
      expect((await limiter.consume("k", limit)).allowed).toBe(true);
    });
  });
}
