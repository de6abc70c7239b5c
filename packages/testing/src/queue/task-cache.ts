import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import type { QueueSuite } from "./kit.js";

/** Task result cache: a job whose cache key has a stored result completes from it without running. */
export function taskCacheTests(suite: QueueSuite): void {
  describe("task cache", () => {
    const kit = suite.useKit();

    const cached = (prefix: string, ttlMs?: number) => {
      const runs: string[] = [];
      const task = defineTask({
        name: "conformance.cached",
        cache: {
          key: (input: { word: string; fail?: boolean }) => `${prefix}:upper:${input.word}`,
          ...(ttlMs ? { ttlMs } : {}),
        },
        run: (input: { word: string; fail?: boolean }) => {
          runs.push(input.word);
          if (input.fail) throw new Error("no result to cache");
          return { upper: input.word.toUpperCase(), run: runs.length };
        },
      });
      return { runs, task };
    };

    it("a second job with the same cache key completes from the cache without running the handler", async () => {
      const k = kit();
      const { runs, task } = cached(k.prefix);
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const first = await conveyor.enqueue(task, { word: "hello" });
      expect(await first.result({ timeoutMs: k.ms(5_000) })).toEqual({ upper: "HELLO", run: 1 });
      const second = await conveyor.enqueue(task, { word: "hello" });
      expect(await second.result({ timeoutMs: k.ms(5_000) })).toEqual({ upper: "HELLO", run: 1 });
      expect(runs).toEqual(["hello"]);
      expect(await second.get()).toMatchObject({ state: "completed", attempt: 1 });
    });

    it("the result is written to the platform cache under the task's key; other keys run", async () => {
      const k = kit();
      const { runs, task } = cached(k.prefix);
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      await (await conveyor.enqueue(task, { word: "one" })).result({ timeoutMs: k.ms(5_000) });
      expect(await k.cache.get(`${k.prefix}:upper:one`)).toEqual({ upper: "ONE", run: 1 });
      await (await conveyor.enqueue(task, { word: "two" })).result({ timeoutMs: k.ms(5_000) });
      expect(runs).toEqual(["one", "two"]);

      // A value placed in the cache by anyone answers the job.
      await k.cache.set(`${k.prefix}:upper:three`, { upper: "FROM CACHE", run: 0 });
      const third = await conveyor.enqueue(task, { word: "three" });
      expect(await third.result({ timeoutMs: k.ms(5_000) })).toEqual({ upper: "FROM CACHE", run: 0 });
      expect(runs).toEqual(["one", "two"]);
    });

    it("a failed job caches nothing: the next job with that key runs", async () => {
      const k = kit();
      const { runs, task } = cached(k.prefix);
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const failed = await conveyor.enqueue(task, { word: "flaky", fail: true });
      await k.until(failed.id, "failed");
      expect(await k.cache.has(`${k.prefix}:upper:flaky`)).toBe(false);
      const next = await conveyor.enqueue(task, { word: "flaky" });
      expect(await next.result({ timeoutMs: k.ms(5_000) })).toEqual({ upper: "FLAKY", run: 2 });
      expect(runs).toEqual(["flaky", "flaky"]);
    });

    it("a cached result expires after the task's cache ttlMs and the handler runs again", async () => {
      const k = kit();
      const { runs, task } = cached(k.prefix, k.ms(100));
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      await (await conveyor.enqueue(task, { word: "brief" })).result({ timeoutMs: k.ms(5_000) });
      await k.waitFor(
        async () => !(await k.cache.has(`${k.prefix}:upper:brief`)),
        "the cached result to expire",
      );
      const again = await conveyor.enqueue(task, { word: "brief" });
      expect(await again.result({ timeoutMs: k.ms(5_000) })).toEqual({ upper: "BRIEF", run: 2 });
      expect(runs).toEqual(["brief", "brief"]);
    });
  });
}
