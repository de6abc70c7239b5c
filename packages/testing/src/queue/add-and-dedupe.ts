import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Adding jobs: what is stored, and dedupe by caller-chosen id. */
export function addAndDedupeTests(suite: QueueSuite): void {
  describe("add and dedupe", () => {
    const kit = suite.useKit();

    it("enqueue stores a waiting job with its input, queue and attempt budget", async () => {
      const k = kit();
      const echo = defineTask({
        name: "conformance.echo",
        retries: 2,
        run: (input: { text: string }) => input.text,
      });
      const conveyor = await k.platform({ tasks: [echo] });
      const before = Date.now();
      const job = await conveyor.enqueue(echo, { text: "hello" }, { meta: { trace: "t-1" } });
      expect(job.created).toBe(true);
      expect(job.queue).toBe(k.queueName());
      expect(job.task).toBe("conformance.echo");
      const record = await job.get();
      expect(record).toMatchObject({
        id: job.id,
        queue: k.queueName(),
        task: "conformance.echo",
        input: { text: "hello" },
        state: "waiting",
        priority: 0,
        attempt: 0,
        maxAttempts: 3,
        meta: { trace: "t-1" },
      });
      expect(record.createdAt).toBeGreaterThanOrEqual(before - 1);
      expect(record.runAt).toBeLessThanOrEqual(Date.now());
      expect(await job.status()).toBe("waiting");
    });

    it("enqueue by task name works like enqueue by task object", async () => {
      const k = kit();
      const double = defineTask({ name: "conformance.double", run: (input: { n: number }) => input.n * 2 });
      const conveyor = await k.platform({ tasks: [double] });
      k.worker();
      const job = await conveyor.enqueue<number>("conformance.double", { n: 21 });
      expect(job.task).toBe("conformance.double");
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe(42);
    });

    it("a second enqueue with the same jobId returns the existing job (created: false) and it runs once", async () => {
      const k = kit();
      const runs: string[] = [];
      const record = defineTask({
        name: "conformance.record",
        run: (input: { tag: string }) => {
          runs.push(input.tag);
          return input.tag;
        },
      });
      const conveyor = await k.platform({ tasks: [record] });
      const jobId = k.jobId("dedupe");
      const first = await conveyor.enqueue(record, { tag: "first" }, { jobId });
      const second = await conveyor.enqueue(record, { tag: "second" }, { jobId });
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.id).toBe(first.id);
      expect((await second.get()).input).toEqual({ tag: "first" });

      k.worker();
      expect(await first.result({ timeoutMs: k.ms(5_000) })).toBe("first");
      expect(await second.result({ timeoutMs: k.ms(5_000) })).toBe("first");
      // A dedupe after completion still returns the finished job instead of adding a new one.
      const third = await conveyor.enqueue(record, { tag: "third" }, { jobId });
      expect(third.created).toBe(false);
      expect(await third.status()).toBe("completed");
      expect(runs).toEqual(["first"]);
    });

    it("adapter add returns the created record and, for an existing id, the stored one unchanged", async () => {
      const k = kit();
      const job = k.newJob({ input: { v: 1 }, maxAttempts: 2, meta: { a: "b" } });
      const [added] = await k.queue.add([job]);
      expect(added?.created).toBe(true);
      expect(added?.job).toMatchObject({
        id: job.id,
        queue: job.queue,
        task: job.task,
        input: { v: 1 },
        state: "waiting",
        attempt: 0,
        maxAttempts: 2,
        priority: 0,
        createdAt: job.createdAt,
        meta: { a: "b" },
      });
      const [again] = await k.queue.add([{ ...job, input: { v: 2 }, maxAttempts: 9 }]);
      expect(again?.created).toBe(false);
      expect(again?.job).toMatchObject({ id: job.id, input: { v: 1 }, maxAttempts: 2 });
      expect(await k.queue.getJob(job.id)).toMatchObject({ input: { v: 1 }, state: "waiting" });
    });

    it("an unknown job id reads as undefined from the adapter and JobNotFoundError from a handle", async () => {
      const k = kit();
      const conveyor = await k.platform();
      expect(await k.queue.getJob(k.jobId("missing"))).toBeUndefined();
      expectConveyorError(await caught(() => conveyor.job(k.jobId("missing")).status()), "JobNotFoundError");
      expectConveyorError(await caught(() => conveyor.job(k.jobId("missing")).result()), "JobNotFoundError");
    });

    it("a closed platform refuses to enqueue with ClosedError", async () => {
      const k = kit();
      const noop = defineTask({ name: "conformance.noop", run: () => null });
      const conveyor = await k.platform({ tasks: [noop] });
      await conveyor.close();
      expectConveyorError(await caught(() => conveyor.enqueue(noop, undefined)), "ClosedError");
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });
  });
}
