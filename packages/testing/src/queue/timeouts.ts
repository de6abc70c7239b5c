import { defineTask, type JobFailedError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { abortReason } from "../conformance.js";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Hard time limits fail (or retry) an attempt; soft limits abort ctx.signal first. */
export function timeoutsTests(suite: QueueSuite): void {
  describe("time limits", () => {
    const kit = suite.useKit();

    it("an attempt over timeoutMs fails with TimeoutError when no retry is left", async () => {
      const k = kit();
      const hold = k.gate();
      const task = defineTask({
        name: "conformance.slow",
        timeoutMs: k.ms(60),
        run: async () => {
          await hold.promise;
          return "too late";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(failed.error).toMatchObject({ name: "TimeoutError", code: "TIMEOUT", attempt: 1 });
      const error = expectConveyorError<JobFailedError>(await caught(() => job.result()), "JobFailedError");
      expect(error.jobError.name).toBe("TimeoutError");
    });

    it("a timed-out attempt is retried per retries and the next attempt can complete", async () => {
      const k = kit();
      const hold = k.gate();
      const attempts: number[] = [];
      const task = defineTask({
        name: "conformance.slowOnce",
        timeoutMs: k.ms(60),
        retries: 1,
        run: async (_input: unknown, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) await hold.promise;
          return `attempt ${ctx.attempt}`;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("attempt 2");
      expect(attempts).toEqual([1, 2]);
      expect((await job.get()).attempt).toBe(2);
    });

    it("the enqueue option timeoutMs applies to a task without one", async () => {
      const k = kit();
      const hold = k.gate();
      const task = defineTask({
        name: "conformance.unbounded",
        run: async () => {
          await hold.promise;
          return "done";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null, { timeoutMs: k.ms(60) });
      expect((await job.get()).timeoutMs).toBe(k.ms(60));
      const failed = await k.until(job.id, "failed");
      expect(failed.error?.name).toBe("TimeoutError");
    });

    it("the soft limit aborts ctx.signal with SoftTimeoutError and the task can still return a value", async () => {
      const k = kit();
      let reason: unknown;
      const task = defineTask({
        name: "conformance.cooperative",
        softTimeoutMs: k.ms(50),
        timeoutMs: k.ms(5_000),
        run: async (_input: unknown, ctx) => {
          reason = await abortReason(ctx.signal);
          return "stopped cleanly";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("stopped cleanly");
      expectConveyorError(reason, "SoftTimeoutError");
      expect(await job.get()).toMatchObject({ state: "completed", attempt: 1 });
    });

    it("a task that ignores the soft limit still fails at the hard limit", async () => {
      const k = kit();
      const hold = k.gate();
      let softReason: unknown;
      const task = defineTask({
        name: "conformance.stubborn",
        softTimeoutMs: k.ms(30),
        timeoutMs: k.ms(120),
        run: async (_input: unknown, ctx) => {
          void abortReason(ctx.signal).then((r) => {
            softReason = r;
          });
          await hold.promise;
          return "never";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(failed.error?.name).toBe("TimeoutError");
      expectConveyorError(softReason, "SoftTimeoutError");
    });

    it("at the hard limit ctx.signal aborts with TimeoutError, so a cooperative attempt stops before the next starts", async () => {
      const k = kit();
      let inFlight = 0;
      let maxInFlight = 0;
      let reason: unknown;
      const task = defineTask({
        name: "conformance.cooperativeSlow",
        timeoutMs: k.ms(60),
        retries: 1,
        run: async (_input: unknown, ctx) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            // Attempt 1 works until told to stop, as a well-behaved task does.
            if (ctx.attempt === 1) reason = await abortReason(ctx.signal);
            return `attempt ${ctx.attempt}`;
          } finally {
            inFlight -= 1;
          }
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("attempt 2");
      expectConveyorError(reason, "TimeoutError");
      // Concurrency 1 means one attempt's code at a time, even across a timeout.
      expect(maxInFlight).toBe(1);
    });

    it("a timed-out job frees its slot: the worker goes on with the next job", async () => {
      const k = kit();
      const hold = k.gate();
      const task = defineTask({
        name: "conformance.maybeSlow",
        timeoutMs: k.ms(60),
        run: async (input: { slow: boolean }) => {
          if (input.slow) await hold.promise;
          return input.slow ? "slow" : "fast";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const slow = await conveyor.enqueue(task, { slow: true });
      const fast = await conveyor.enqueue(task, { slow: false });
      expect(await fast.result({ timeoutMs: k.ms(5_000) })).toBe("fast");
      expect(await slow.status()).toBe("failed");
    });
  });
}
