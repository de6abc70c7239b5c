import { describe, expect, it } from "vitest";
import type { RateLimiterSuite } from "./kit.js";

/** consume is atomic: concurrent calls never grant more than the limit. */
export function atomicTests(suite: RateLimiterSuite): void {
  describe("atomic under concurrency", () => {
    it("100 concurrent consumes against 10 points grant exactly 10", async () => {
      const limiter = await suite.create();
      const limit = { points: 10, durationMs: suite.ms(60_000) };
      const answers = await Promise.all(Array.from({ length: 100 }, () => limiter.consume("hot", limit)));
      const granted = answers.filter((a) => a.allowed);
      expect(granted).toHaveLength(10);
      expect(granted.map((a) => a.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(answers.filter((a) => !a.allowed).every((a) => a.remaining === 0)).toBe(true);
    });

    it("concurrent consumes of cost 3 against 10 points grant exactly 3", async () => {
      const limiter = await suite.create();
      const limit = { points: 10, durationMs: suite.ms(60_000) };
      const answers = await Promise.all(Array.from({ length: 50 }, () => limiter.consume("hot", limit, 3)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(3);
      expect(await limiter.peek("hot", limit)).toMatchObject({ remaining: 1, consumed: 9 });
    });

    it("concurrent consumes on many keys grant each key its own limit", async () => {
      const limiter = await suite.create();
      const limit = { points: 3, durationMs: suite.ms(60_000) };
      const keys = ["a", "b", "c", "d"];
      const answers = await Promise.all(
        keys.flatMap((key) =>
          Array.from({ length: 10 }, () => limiter.consume(key, limit).then((a) => ({ key, a }))),
        ),
      );
      for (const key of keys) {
        expect(answers.filter((x) => x.key === key && x.a.allowed)).toHaveLength(3);
      }
    });
  });
}
