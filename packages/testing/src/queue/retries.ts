import { type BackoffOptions, defineTask, type JobFailedError, UnrecoverableError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

const CLOCK_SLACK_MS = 2;

class FlakyError extends Error {
  override name = "FlakyError";
}

/** A handler that throws: retried per `retries` with backoff, then failed with its error stored. */
export function retriesTests(suite: QueueSuite): void {
  describe("retries", () => {
    const kit = suite.useKit();

    /** A task that fails its first `failures` attempts, recording when each attempt started. */
    const flaky = (failures: number, options: { retries?: number; backoff?: BackoffOptions } = {}) => {
      const attempts: { attempt: number; maxAttempts: number; at: number }[] = [];
      const task = defineTask({
        name: "conformance.flaky",
        ...options,
        run: (_input: unknown, ctx) => {
          attempts.push({ attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, at: Date.now() });
          if (ctx.attempt <= failures) throw new FlakyError(`failure ${ctx.attempt}`);
          return `ok after ${ctx.attempt}`;
        },
      });
      return { attempts, task };
    };

    it("a throwing handler is retried per retries and ctx.attempt counts up", async () => {
      const k = kit();
      const { attempts, task } = flaky(2, { retries: 2 });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("ok after 3");
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(attempts.every((a) => a.maxAttempts === 3)).toBe(true);
      const record = await job.get();
      expect(record).toMatchObject({ state: "completed", attempt: 3, maxAttempts: 3, result: "ok after 3" });
    });

    it("fixed backoff waits at least delayMs between attempts", async () => {
      const k = kit();
      const delayMs = k.ms(80);
      const { attempts, task } = flaky(2, { retries: 2, backoff: { type: "fixed", delayMs } });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await job.result({ timeoutMs: k.ms(5_000) });
      expect(attempts).toHaveLength(3);
      for (let i = 1; i < attempts.length; i++) {
        expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(delayMs - CLOCK_SLACK_MS);
      }
    });

    it("exponential backoff doubles the wait after each failed attempt", async () => {
      const k = kit();
      const delayMs = k.ms(40);
      const { attempts, task } = flaky(3, { retries: 3, backoff: { type: "exponential", delayMs } });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await job.result({ timeoutMs: k.ms(5_000) });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
      const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
      expect(gaps[0]!).toBeGreaterThanOrEqual(delayMs - CLOCK_SLACK_MS);
      expect(gaps[1]!).toBeGreaterThanOrEqual(2 * delayMs - CLOCK_SLACK_MS);
      expect(gaps[2]!).toBeGreaterThanOrEqual(4 * delayMs - CLOCK_SLACK_MS);
    });

    it("between attempts the job is retrying, with the last error stored and runAt in the future", async () => {
      const k = kit();
      const { task } = flaky(1, { retries: 1, backoff: { type: "fixed", delayMs: k.ms(400) } });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const retrying = await k.until(job.id, "retrying", "completed");
      expect(retrying.state).toBe("retrying");
      expect(retrying.attempt).toBe(1);
      expect(retrying.error).toMatchObject({ name: "FlakyError", message: "failure 1", attempt: 1 });
      expect(retrying.runAt).toBeGreaterThan(retrying.startedAt ?? 0);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ retrying: 1, active: 0 });
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("ok after 2");
    });

    it("when retries are exhausted the job fails with name, message, stack and attempt stored", async () => {
      const k = kit();
      const { attempts, task } = flaky(Number.POSITIVE_INFINITY, { retries: 2 });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(attempts).toHaveLength(3);
      expect(failed.attempt).toBe(3);
      expect(failed.finishedAt).toBeGreaterThanOrEqual(failed.createdAt);
      expect(failed.error).toMatchObject({ name: "FlakyError", message: "failure 3", attempt: 3 });
      expect(failed.error?.stack).toContain("failure 3");

      const error = expectConveyorError<JobFailedError>(await caught(() => job.result()), "JobFailedError");
      expect(error.jobError).toMatchObject({ name: "FlakyError", message: "failure 3", attempt: 3 });
      expect(error.jobError.stack).toBe(failed.error?.stack);
      expect(error.message).toContain("failure 3");
      // Dead letters stay until removed; the worker keeps going.
      expect(await conveyor.counts(k.queueName())).toMatchObject({ failed: 1 });
    });

    it("UnrecoverableError fails the job at once, leaving its retries unused", async () => {
      const k = kit();
      let runs = 0;
      const task = defineTask({
        name: "conformance.unrecoverable",
        retries: 5,
        run: () => {
          runs += 1;
          throw new UnrecoverableError("the card was declined");
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(runs).toBe(1);
      expect(failed).toMatchObject({ attempt: 1, maxAttempts: 6 });
      expect(failed.error).toMatchObject({ name: "UnrecoverableError", attempt: 1, retryable: false });
      expect(failed.error?.message).toContain("the card was declined");
      const error = expectConveyorError<JobFailedError>(await caught(() => job.result()), "JobFailedError");
      expect(error.jobError.name).toBe("UnrecoverableError");
    });

    it("the enqueue option retries overrides the task's", async () => {
      const k = kit();
      const { attempts, task } = flaky(Number.POSITIVE_INFINITY, { retries: 5 });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null, { retries: 1 });
      expect((await job.get()).maxAttempts).toBe(2);
      await k.until(job.id, "failed");
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
    });

    it("a thrown non-Error value is stored as the error message", async () => {
      const k = kit();
      const task = defineTask({
        name: "conformance.throwString",
        run: () => {
          throw "plain string failure";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(failed.error).toMatchObject({ message: "plain string failure", attempt: 1 });
      expect(typeof failed.error?.name).toBe("string");
    });
  });
}
