import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import type { QueueSuite } from "./kit.js";

/** Adding many jobs in one call. */
export function bulkTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("bulk add", () => {
    const kit = suite.useKit();

    const squares = () => {
      const order: number[] = [];
      const task = defineTask({
        name: "conformance.square",
        run: (input: { n: number }) => {
          order.push(input.n);
          return input.n * input.n;
        },
      });
      return { order, task };
    };

    it("enqueueMany returns one handle per item, in order, and every job completes", async () => {
      const k = kit();
      const { order, task } = squares();
      const conveyor = await k.platform({ tasks: [task] });
      const items = Array.from({ length: 25 }, (_, n) => ({ input: { n } }));
      const jobs = await conveyor.enqueueMany(task, items);
      expect(jobs).toHaveLength(25);
      expect(new Set(jobs.map((j) => j.id)).size).toBe(25);
      expect(
        jobs.every((j) => j.created && j.queue === k.queueName() && j.task === "conformance.square"),
      ).toBe(true);
      for (const [n, job] of jobs.entries()) expect((await job.get()).input).toEqual({ n });
      k.worker({ concurrency: 1 });
      const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(5_000) })));
      expect(results).toEqual(items.map(({ input }) => input.n * input.n));
      expect(order).toEqual(items.map(({ input }) => input.n));
    });

    it("enqueueMany honours per-item options and dedupes ids that exist", async () => {
      const k = kit();
      const { task } = squares();
      const conveyor = await k.platform({ tasks: [task] });
      const existing = await conveyor.enqueue(task, { n: 1 }, { jobId: k.jobId("existing") });
      const jobs = await conveyor.enqueueMany(task, [
        { input: { n: 2 }, options: { jobId: k.jobId("existing") } },
        { input: { n: 3 }, options: { jobId: k.jobId("fresh"), retries: 4, meta: { source: "bulk" } } },
        { input: { n: 4 }, options: { queue: k.queueName("side") } },
      ]);
      expect(jobs.map((j) => j.created)).toEqual([false, true, true]);
      expect(jobs[0]!.id).toBe(existing.id);
      expect((await jobs[0]!.get()).input).toEqual({ n: 1 });
      expect(await jobs[1]!.get()).toMatchObject({
        id: k.jobId("fresh"),
        maxAttempts: 5,
        meta: { source: "bulk" },
      });
      expect(jobs[2]!.queue).toBe(k.queueName("side"));
      expect((await jobs[2]!.get()).queue).toBe(k.queueName("side"));
    });

    it.skipIf(!caps.delayed || !caps.priority)(
      "enqueueMany items can be delayed and prioritised",
      async () => {
        const k = kit();
        const { order, task } = squares();
        const conveyor = await k.platform({ tasks: [task] });
        const jobs = await conveyor.enqueueMany(task, [
          { input: { n: 1 } },
          { input: { n: 2 }, options: { priority: 5 } },
          { input: { n: 3 }, options: { delayMs: k.ms(100) } },
        ]);
        expect((await jobs[2]!.get()).state).toBe("delayed");
        k.worker({ concurrency: 1 });
        await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(5_000) })));
        expect(order).toEqual([2, 1, 3]);
      },
    );

    it("enqueueMany of nothing adds nothing", async () => {
      const k = kit();
      const { task } = squares();
      const conveyor = await k.platform({ tasks: [task] });
      expect(await conveyor.enqueueMany(task, [])).toEqual([]);
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });

    it("adapter add answers each job in the order given", async () => {
      const k = kit();
      const first = k.newJob({ input: { i: 0 } });
      const existing = k.newJob({ input: { i: 1 } });
      await k.queue.add([existing]);
      const third = k.newJob({ input: { i: 2 } });
      const results = await k.queue.add([first, { ...existing, input: { i: 99 } }, third]);
      expect(results.map((r) => r.job.id)).toEqual([first.id, existing.id, third.id]);
      expect(results.map((r) => r.created)).toEqual([true, false, true]);
      expect(results[1]!.job.input).toEqual({ i: 1 });
    });
  });
}
