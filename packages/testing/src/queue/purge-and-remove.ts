import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import { mixedTask, type QueueSuite } from "./kit.js";

/** Deleting jobs one by one (remove) and in bulk by state and age (purge); active jobs are never touched. */
export function purgeAndRemoveTests(suite: QueueSuite): void {
  describe("purge and remove", () => {
    const kit = suite.useKit();

    const outcomes = () =>
      defineTask({
        name: "conformance.outcome",
        run: (input: { fail?: boolean; tag?: string }) => {
          if (input.fail) throw new Error("asked to fail");
          return input.tag ?? "ok";
        },
      });

    it("remove deletes a waiting job, which then never runs; a second remove answers false", async () => {
      const k = kit();
      const ran: string[] = [];
      const task = defineTask({
        name: "conformance.tracked",
        run: (input: { tag: string }) => {
          ran.push(input.tag);
          return input.tag;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const removed = await conveyor.enqueue(task, { tag: "removed" });
      const kept = await conveyor.enqueue(task, { tag: "kept" });
      expect(await conveyor.remove(removed.id)).toBe(true);
      expect(await k.queue.getJob(removed.id)).toBeUndefined();
      expect(await conveyor.remove(removed.id)).toBe(false);
      k.worker({ concurrency: 1 });
      await kept.result({ timeoutMs: k.ms(5_000) });
      expect(ran).toEqual(["kept"]);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ waiting: 0, completed: 1 });
    });

    it("remove deletes finished jobs, completed and failed", async () => {
      const k = kit();
      const task = outcomes();
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const completed = await conveyor.enqueue(task, {});
      const failed = await conveyor.enqueue(task, { fail: true });
      await k.until(completed.id, "completed");
      await k.until(failed.id, "failed");
      expect(await conveyor.remove(completed.id)).toBe(true);
      expect(await conveyor.remove(failed.id)).toBe(true);
      expect(await k.queue.getJob(completed.id)).toBeUndefined();
      expect(await k.queue.getJob(failed.id)).toBeUndefined();
      expect(await conveyor.counts(k.queueName())).toMatchObject({ completed: 0, failed: 0 });
    });

    it("remove does not delete an active job; it completes as usual", async () => {
      const k = kit();
      const hold = k.gate();
      const task = defineTask({
        name: "conformance.held",
        run: async () => {
          await hold.promise;
          return "survived";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await k.until(job.id, "active");
      const answer = await conveyor.remove(job.id).catch(() => false);
      expect(answer).toBe(false);
      expect(await job.status()).toBe("active");
      hold.resolve();
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("survived");
    });

    it("purge by state deletes only jobs in those states and answers how many", async () => {
      const k = kit();
      const task = outcomes();
      const conveyor = await k.platform({ tasks: [task] });
      const worker = k.worker();
      const jobs = await conveyor.enqueueMany(task, [
        { input: {} },
        { input: {} },
        { input: { fail: true } },
      ]);
      await k.waitFor(async () => {
        const counts = await conveyor.counts(k.queueName());
        return counts.completed === 2 && counts.failed === 1;
      }, "two completed and one failed");
      await worker.close();
      const waiting = await conveyor.enqueue(task, {});

      expect(await conveyor.purge(k.queueName(), { states: ["completed"] })).toBe(2);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ completed: 0, failed: 1, waiting: 1 });
      expect(await k.queue.getJob(jobs[0]!.id)).toBeUndefined();
      expect(await k.queue.getJob(jobs[2]!.id)).toMatchObject({ state: "failed" });
      expect(await conveyor.purge(k.queueName(), { states: ["failed", "waiting"] })).toBe(2);
      expect(await k.queue.getJob(waiting.id)).toBeUndefined();
      expect(await conveyor.purge(k.queueName(), { states: ["completed"] })).toBe(0);
    });

    it("purge with olderThanMs deletes only jobs at least that old", async () => {
      const k = kit();
      const task = outcomes();
      const conveyor = await k.platform({ tasks: [task] });
      const old = await conveyor.enqueueMany(task, [
        { input: { tag: "old-1" } },
        { input: { tag: "old-2" } },
      ]);
      await sleep(k.ms(400));
      const fresh = await conveyor.enqueue(task, { tag: "fresh" });
      expect(await conveyor.purge(k.queueName(), { states: ["waiting"], olderThanMs: k.ms(200) })).toBe(2);
      for (const job of old) expect(await k.queue.getJob(job.id)).toBeUndefined();
      expect(await k.queue.getJob(fresh.id)).toMatchObject({ state: "waiting" });
    });

    it("purge without states deletes every state but active, and only in its queue", async () => {
      const k = kit();
      const hold = k.gate();
      const task = mixedTask(hold);
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const active = await conveyor.enqueue(task, { mode: "hold" });
      await k.until(active.id, "active");
      await conveyor.enqueueMany(task, [{ input: { mode: "ok" } }, { input: { mode: "fail" } }]);
      const elsewhere = await conveyor.enqueue(task, { mode: "ok" }, { queue: k.queueName("elsewhere") });

      expect(await conveyor.purge(k.queueName())).toBe(2);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ active: 1, waiting: 0 });
      expect(await k.queue.getJob(elsewhere.id)).toMatchObject({ state: "waiting" });
      hold.resolve();
      expect(await active.result({ timeoutMs: k.ms(5_000) })).toBe("hold");
    });
  });
}
