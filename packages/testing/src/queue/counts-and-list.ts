import { defineTask, JOB_STATES } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import { mixedTask, type QueueSuite } from "./kit.js";

/** Inspection: counts per state, listing with filters (newest first), known queues. */
export function countsAndListTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("counts and listing", () => {
    const kit = suite.useKit();

    it("counts of an unused queue have every state, all zero", async () => {
      const k = kit();
      const counts = await k.queue.counts(k.queueName("unused"));
      expect(Object.keys(counts).sort()).toEqual([...JOB_STATES].sort());
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    });

    it("counts follow jobs through waiting, delayed, active, completed, failed and cancelled", async () => {
      const k = kit();
      const hold = k.gate();
      const task = mixedTask(hold);
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const ok = await conveyor.enqueue(task, { mode: "ok" });
      const fail = await conveyor.enqueue(task, { mode: "fail" });
      await k.until(ok.id, "completed");
      await k.until(fail.id, "failed");
      const active = await conveyor.enqueue(task, { mode: "hold" });
      await k.until(active.id, "active");
      await conveyor.enqueueMany(task, [{ input: { mode: "ok" } }, { input: { mode: "ok" } }]);
      const cancelled = await conveyor.enqueue(task, { mode: "ok" });
      await cancelled.cancel();
      if (caps.delayed) await conveyor.enqueue(task, { mode: "ok" }, { delayMs: k.ms(60_000) });

      expect(await conveyor.counts(k.queueName())).toEqual({
        waiting: 2,
        delayed: caps.delayed ? 1 : 0,
        active: 1,
        retrying: 0,
        completed: 1,
        failed: 1,
        cancelled: 1,
      });
      hold.resolve();
    });

    it("listJobs filters by queue and state, newest first, with limit and offset", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.listed", run: (input: { n: number }) => input.n });
      const conveyor = await k.platform({ tasks: [task] });
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        ids.push((await conveyor.enqueue(task, { n })).id);
        await sleep(3);
      }
      const other = await conveyor.enqueue(task, { n: 99 }, { queue: k.queueName("other") });
      const newestFirst = [...ids].reverse();

      const all = await conveyor.listJobs({ queue: k.queueName() });
      expect(all.map((j) => j.id)).toEqual(newestFirst);
      expect(all.every((j) => j.queue === k.queueName())).toBe(true);
      expect((await conveyor.listJobs({ queue: k.queueName(), limit: 2 })).map((j) => j.id)).toEqual(
        newestFirst.slice(0, 2),
      );
      expect(
        (await conveyor.listJobs({ queue: k.queueName(), limit: 2, offset: 2 })).map((j) => j.id),
      ).toEqual(newestFirst.slice(2, 4));
      expect(await conveyor.listJobs({ queue: k.queueName(), states: ["completed"] })).toEqual([]);

      await conveyor.cancel(ids[1]!);
      const cancelled = await conveyor.listJobs({ queue: k.queueName(), states: ["cancelled"] });
      expect(cancelled.map((j) => j.id)).toEqual([ids[1]]);
      const pending = await conveyor.listJobs({ queue: k.queueName(), states: ["waiting", "cancelled"] });
      expect(pending).toHaveLength(5);

      const everywhere = (await conveyor.listJobs({ limit: 1_000 })).map((j) => j.id);
      expect(everywhere).toEqual(expect.arrayContaining([...ids, other.id]));
    });

    it("queues() lists every queue that has jobs, with its paused flag", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.listed", run: () => null });
      const conveyor = await k.platform({ tasks: [task] });
      await conveyor.enqueue(task, null, { queue: k.queueName("alpha") });
      await conveyor.enqueue(task, null, { queue: k.queueName("beta") });
      const mine = (await conveyor.queues()).filter((q) => q.name.startsWith(`${k.prefix}-`));
      expect(mine.map((q) => q.name).sort()).toEqual([k.queueName("alpha"), k.queueName("beta")]);
      expect(mine.every((q) => q.paused === false)).toBe(true);
    });
  });
}
