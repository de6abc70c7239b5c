import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Claim order: priority (higher first) when supported, then first in, first out. */
export function orderingTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("ordering", () => {
    const kit = suite.useKit();

    const recorder = () => {
      const order: string[] = [];
      const task = defineTask({
        name: "conformance.order",
        run: (input: { tag: string }) => {
          order.push(input.tag);
          return input.tag;
        },
      });
      return { order, task };
    };

    it("jobs of equal priority run first in, first out", async () => {
      const k = kit();
      const { order, task } = recorder();
      const conveyor = await k.platform({ tasks: [task] });
      const tags = ["a", "b", "c", "d", "e", "f"];
      const jobs = [];
      for (const tag of tags) jobs.push(await conveyor.enqueue(task, { tag }));
      k.worker({ concurrency: 1 });
      for (const job of jobs) await job.result({ timeoutMs: k.ms(5_000) });
      expect(order).toEqual(tags);
    });

    it.skipIf(!caps.priority)(
      "higher priority runs first among jobs waiting before the worker starts",
      async () => {
        const k = kit();
        const { order, task } = recorder();
        const conveyor = await k.platform({ tasks: [task] });
        const jobs = [
          await conveyor.enqueue(task, { tag: "low" }, { priority: 1 }),
          await conveyor.enqueue(task, { tag: "high" }, { priority: 10 }),
          await conveyor.enqueue(task, { tag: "mid" }, { priority: 5 }),
          await conveyor.enqueue(task, { tag: "none" }),
        ];
        expect((await jobs[1]!.get()).priority).toBe(10);
        k.worker({ concurrency: 1 });
        for (const job of jobs) await job.result({ timeoutMs: k.ms(5_000) });
        expect(order).toEqual(["high", "mid", "low", "none"]);
      },
    );

    it.skipIf(!caps.priority)(
      "while the worker is busy, a later high-priority job overtakes; equal priority stays FIFO",
      async () => {
        const k = kit();
        const order: string[] = [];
        const hold = k.gate();
        const started = k.gate();
        const task = defineTask({
          name: "conformance.order",
          run: async (input: { tag: string }) => {
            order.push(input.tag);
            if (input.tag === "blocker") {
              started.resolve();
              await hold.promise;
            }
            return input.tag;
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker({ concurrency: 1 });
        const blocker = await conveyor.enqueue(task, { tag: "blocker" });
        await started.promise;
        const jobs = [
          await conveyor.enqueue(task, { tag: "p5-a" }, { priority: 5 }),
          await conveyor.enqueue(task, { tag: "p5-b" }, { priority: 5 }),
          await conveyor.enqueue(task, { tag: "p1" }, { priority: 1 }),
          await conveyor.enqueue(task, { tag: "p5-c" }, { priority: 5 }),
          await conveyor.enqueue(task, { tag: "p9" }, { priority: 9 }),
        ];
        hold.resolve();
        await blocker.result({ timeoutMs: k.ms(5_000) });
        for (const job of jobs) await job.result({ timeoutMs: k.ms(5_000) });
        expect(order).toEqual(["blocker", "p9", "p5-a", "p5-b", "p5-c", "p1"]);
      },
    );

    it("without the priority capability (a view hiding it), a job priority is refused with UnsupportedFeatureError", async () => {
      const k = kit();
      const { task } = recorder();
      const conveyor = await k.platform({ tasks: [task] }, ["priority"]);
      const error = expectConveyorError(
        await caught(() => conveyor.enqueue(task, { tag: "x" }, { priority: 3 })),
        "UnsupportedFeatureError",
      );
      expect(error.details).toMatchObject({ adapter: k.queue.name });
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });
  });
}
