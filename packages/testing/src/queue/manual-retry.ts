import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Retrying failed or cancelled jobs by hand (dead letters). */
export function manualRetryTests(suite: QueueSuite): void {
  describe("manual retry", () => {
    const kit = suite.useKit();

    it("retrying a failed job gives it a fresh attempt budget and it completes", async () => {
      const k = kit();
      let healthy = false;
      const attempts: number[] = [];
      const task = defineTask({
        name: "conformance.fixable",
        retries: 1,
        run: (_input: unknown, ctx) => {
          attempts.push(ctx.attempt);
          if (!healthy) throw new Error("downstream is down");
          return "fixed";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await k.until(job.id, "failed");
      expect(attempts).toEqual([1, 2]);

      healthy = true;
      const retried = await conveyor.retry(job.id);
      expect(retried).toMatchObject({ id: job.id, state: "waiting", attempt: 0, maxAttempts: 2 });
      expect(retried.error).toBeUndefined();
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("fixed");
      expect(attempts).toEqual([1, 2, 1]);
      expect(await job.get()).toMatchObject({ state: "completed", attempt: 1 });
    });

    it("a job handle can retry its failed job", async () => {
      const k = kit();
      let fail = true;
      const task = defineTask({
        name: "conformance.fixable",
        run: () => {
          if (fail) throw new Error("not yet");
          return 7;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await k.until(job.id, "failed");
      fail = false;
      await job.retry();
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe(7);
    });

    it("a cancelled job can be retried and then runs", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.value", run: () => "ran" });
      const conveyor = await k.platform({ tasks: [task] });
      const job = await conveyor.enqueue(task, null);
      expect(await job.cancel()).toBe("cancelled");
      await conveyor.retry(job.id);
      expect(await job.status()).toBe("waiting");
      k.worker();
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("ran");
    });

    it("retry refuses a completed job and an unknown id", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.value", run: () => "ran" });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await job.result({ timeoutMs: k.ms(5_000) });
      expectConveyorError(await caught(() => conveyor.retry(job.id)), "JobStateError");
      expectConveyorError(await caught(() => job.retry()), "JobStateError");
      expect(await job.get()).toMatchObject({ state: "completed", result: "ran" });
      expect(await k.queue.retry(job.id)).toBeUndefined();
      expectConveyorError(await caught(() => conveyor.retry(k.jobId("missing"))), "JobNotFoundError");
    });
  });
}
