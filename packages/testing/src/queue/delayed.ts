import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

// Node timers may fire a millisecond before Date.now() says the time has come.
const CLOCK_SLACK_MS = 2;

/** Delayed jobs: not run before their time, then run like any other. */
export function delayedTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("delayed jobs", () => {
    const kit = suite.useKit();

    const stamped = () => {
      const startedAt = new Map<string, number>();
      const task = defineTask({
        name: "conformance.stamp",
        run: (input: { tag: string }) => {
          startedAt.set(input.tag, Date.now());
          return input.tag;
        },
      });
      return { startedAt, task };
    };

    it.skipIf(!caps.delayed)(
      "a job with delayMs is delayed, does not run before its time, then completes",
      async () => {
        const k = kit();
        const { startedAt, task } = stamped();
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const delayMs = k.ms(150);
        const before = Date.now();
        const job = await conveyor.enqueue(task, { tag: "later" }, { delayMs });
        const record = await job.get();
        expect(record.state).toBe("delayed");
        expect(record.runAt).toBeGreaterThanOrEqual(before + delayMs);
        expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("later");
        expect(startedAt.get("later")!).toBeGreaterThanOrEqual(record.runAt - CLOCK_SLACK_MS);
      },
    );

    it.skipIf(!caps.delayed)("runAt as a Date schedules the job for that time", async () => {
      const k = kit();
      const { startedAt, task } = stamped();
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const runAt = new Date(Date.now() + k.ms(120));
      const job = await conveyor.enqueue(task, { tag: "dated" }, { runAt });
      expect((await job.get()).runAt).toBe(runAt.getTime());
      expect(await job.status()).toBe("delayed");
      await job.result({ timeoutMs: k.ms(5_000) });
      expect(startedAt.get("dated")!).toBeGreaterThanOrEqual(runAt.getTime() - CLOCK_SLACK_MS);
    });

    it.skipIf(!caps.delayed)("a delayed job does not hold back ready jobs behind it", async () => {
      const k = kit();
      const { startedAt, task } = stamped();
      const conveyor = await k.platform({ tasks: [task] });
      const later = await conveyor.enqueue(task, { tag: "later" }, { delayMs: k.ms(60_000) });
      const now = await conveyor.enqueue(task, { tag: "now" });
      k.worker({ concurrency: 1 });
      await now.result({ timeoutMs: k.ms(5_000) });
      expect(await later.status()).toBe("delayed");
      expect(startedAt.has("later")).toBe(false);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ delayed: 1, completed: 1, waiting: 0 });
    });

    it.skipIf(!caps.delayed)(
      "a delayed job added straight through the adapter becomes ready at runAt",
      async () => {
        const k = kit();
        const { startedAt, task } = stamped();
        await k.platform({ tasks: [task] });
        const runAt = Date.now() + k.ms(100);
        const job = k.newJob({ task: "conformance.stamp", input: { tag: "raw" }, runAt });
        const [added] = await k.queue.add([job]);
        expect(added?.job.state).toBe("delayed");
        k.worker();
        const done = await k.until(job.id, "completed");
        expect(done.result).toBe("raw");
        expect(startedAt.get("raw")!).toBeGreaterThanOrEqual(runAt - CLOCK_SLACK_MS);
      },
    );

    it("without the delayed capability (a view hiding it), delayMs is refused with UnsupportedFeatureError", async () => {
      const k = kit();
      const { task } = stamped();
      const conveyor = await k.platform({ tasks: [task] }, ["delayed"]);
      expectConveyorError(
        await caught(() => conveyor.enqueue(task, { tag: "x" }, { delayMs: 1_000 })),
        "UnsupportedFeatureError",
      );
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });
  });
}
