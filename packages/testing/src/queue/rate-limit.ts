import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import type { QueueSuite } from "./kit.js";

const CLOCK_SLACK_MS = 2;

/** Task rate limits: jobs over the limit are postponed (delayed, no attempt used), never failed. */
export function rateLimitTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("task rate limit", () => {
    const kit = suite.useKit();

    it.skipIf(!caps.delayed)(
      "jobs over the limit are postponed without using attempts, and all complete",
      async () => {
        const k = kit();
        const durationMs = k.ms(300);
        const starts: { n: number; attempt: number; at: number }[] = [];
        const task = defineTask({
          name: "conformance.limited",
          rateLimit: { points: 2, durationMs },
          run: (input: { n: number }, ctx) => {
            starts.push({ n: input.n, attempt: ctx.attempt, at: Date.now() });
            return input.n;
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        const jobs = await conveyor.enqueueMany(
          task,
          Array.from({ length: 5 }, (_, n) => ({ input: { n } })),
        );
        k.worker({ concurrency: 5 });
        const postponed = await k.waitFor(async () => {
          const [record] = await conveyor.listJobs({ queue: k.queueName(), states: ["delayed"], limit: 1 });
          return record;
        }, "a job postponed by the rate limit");
        expect(postponed.attempt).toBe(0);

        const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(10_000) })));
        expect(results).toEqual([0, 1, 2, 3, 4]);
        expect(starts).toHaveLength(5);
        expect(starts.every((s) => s.attempt === 1)).toBe(true);
        for (const job of jobs) expect(await job.get()).toMatchObject({ state: "completed", attempt: 1 });
        // Five starts at two points per window need three windows.
        const times = starts.map((s) => s.at);
        expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(durationMs - CLOCK_SLACK_MS);
        expect((await conveyor.counts(k.queueName())).failed).toBe(0);
      },
    );

    it.skipIf(!caps.delayed)("the limit key groups jobs: other keys are not held back", async () => {
      const k = kit();
      const ran: string[] = [];
      const task = defineTask({
        name: "conformance.perTenant",
        rateLimit: {
          key: (input: { tenant: string; n: number }) => input.tenant,
          points: 1,
          durationMs: k.ms(400),
        },
        run: (input: { tenant: string; n: number }) => {
          ran.push(`${input.tenant}${input.n}`);
          return input.n;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const [a1, b1, a2] = await conveyor.enqueueMany(task, [
        { input: { tenant: "a", n: 1 } },
        { input: { tenant: "b", n: 1 } },
        { input: { tenant: "a", n: 2 } },
      ]);
      k.worker({ concurrency: 3 });
      await a1!.result({ timeoutMs: k.ms(5_000) });
      await b1!.result({ timeoutMs: k.ms(5_000) });
      const held = await k.until(a2!.id, "delayed", "completed");
      expect(held).toMatchObject({ state: "delayed", attempt: 0 });
      expect(ran.sort()).toEqual(["a1", "b1"]);
      expect(await a2!.result({ timeoutMs: k.ms(5_000) })).toBe(2);
      expect(await a2!.get()).toMatchObject({ state: "completed", attempt: 1 });
    });
  });
}
