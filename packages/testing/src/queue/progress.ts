import { defineTask, type Progress } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import type { QueueSuite } from "./kit.js";

/** Progress reported by a handler is stored and readable from any handle while the job runs. */
export function progressTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("progress", () => {
    const kit = suite.useKit();

    it.skipIf(!caps.progress)(
      "progress reported by a running job is visible from another handle",
      async () => {
        const k = kit();
        const hold = k.gate();
        const task = defineTask({
          name: "conformance.reporting",
          run: async (_input: unknown, ctx) => {
            await ctx.progress(3, 10, "three of ten");
            await hold.promise;
            return "done";
          },
        });
        const producer = await k.platform({ tasks: [task] });
        k.worker();
        const job = await producer.enqueue(task, null);
        // A second platform over the same backend stands in for another process.
        const observer = await k.platform();
        const seen = await k.waitFor(() => observer.job(job.id).progress(), "progress to be visible");
        expect(seen).toEqual({ current: 3, total: 10, message: "three of ten" });
        expect(await observer.job(job.id).status()).toBe("active");
        hold.resolve();
        expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("done");
      },
    );

    it.skipIf(!caps.progress)(
      "each report replaces the previous one; the object form is stored as given",
      async () => {
        const k = kit();
        const step = k.gate();
        const finish = k.gate();
        const task = defineTask({
          name: "conformance.reporting",
          run: async (_input: unknown, ctx) => {
            await ctx.progress({ current: 1, total: 2, message: "half" });
            await step.promise;
            await ctx.progress({ current: 2 });
            await finish.promise;
            return "done";
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        const same = (expected: Progress) => async () =>
          JSON.stringify(await conveyor.job(job.id).progress()) === JSON.stringify(expected);
        await k.waitFor(same({ current: 1, total: 2, message: "half" }), "first report");
        step.resolve();
        await k.waitFor(same({ current: 2 }), "second report to replace the first");
        finish.resolve();
        await job.result({ timeoutMs: k.ms(5_000) });
      },
    );

    it.skipIf(!caps.progress)("a burst of unawaited reports ends with the last value stored", async () => {
      const k = kit();
      const hold = k.gate();
      const task = defineTask({
        name: "conformance.burst",
        run: async (_input: unknown, ctx) => {
          let last: Promise<void> = Promise.resolve();
          for (let i = 1; i <= 200; i++) last = ctx.progress(i, 200);
          await last;
          await hold.promise;
          return "done";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await k.waitFor(async () => (await job.progress())?.current === 200, "the last report");
      expect(await job.progress()).toEqual({ current: 200, total: 200 });
      hold.resolve();
      await job.result({ timeoutMs: k.ms(5_000) });
    });
  });
}
