import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { abortReason, sleep } from "../conformance.js";
import { expectConveyorError, type QueueSuite } from "./kit.js";
import { slowSchema } from "./schema.js";

/** Closing a worker: draining finishes running jobs; closing at once releases them to run again. */
export function workerCloseTests(suite: QueueSuite): void {
  describe("worker close", () => {
    const kit = suite.useKit();

    it("close with drain waits for running handlers and stores their results", async () => {
      const k = kit();
      const hold = k.gate();
      let running = 0;
      const task = defineTask({
        name: "conformance.held",
        run: async (input: { n: number }) => {
          running += 1;
          await hold.promise;
          return input.n * 10;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const worker = k.worker({ concurrency: 3 });
      const jobs = await conveyor.enqueueMany(task, [
        { input: { n: 1 } },
        { input: { n: 2 } },
        { input: { n: 3 } },
      ]);
      await k.waitFor(() => running === 3, "three handlers running");

      let closed = false;
      const closing = worker.close({ drain: true }).then(() => {
        closed = true;
      });
      await sleep(k.ms(50));
      expect(closed).toBe(false);
      hold.resolve();
      await closing;
      expect(worker.active).toBe(0);
      for (const [i, job] of jobs.entries()) {
        expect(await job.get()).toMatchObject({ state: "completed", result: (i + 1) * 10, attempt: 1 });
      }
    });

    it("a drained worker takes no new jobs", async () => {
      const k = kit();
      const ran: number[] = [];
      const task = defineTask({
        name: "conformance.count",
        run: (input: { n: number }) => {
          ran.push(input.n);
          return input.n;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const worker = k.worker();
      const first = await conveyor.enqueue(task, { n: 1 });
      await first.result({ timeoutMs: k.ms(5_000) });
      await worker.close();
      const second = await conveyor.enqueue(task, { n: 2 });
      await sleep(k.ms(100));
      expect(ran).toEqual([1]);
      expect(await second.status()).toBe("waiting");
    });

    it("close without drain aborts handlers with WorkerClosingError and releases their jobs uncounted", async () => {
      const k = kit();
      const reasons: unknown[] = [];
      const attempts: number[] = [];
      const task = defineTask({
        name: "conformance.interruptible",
        run: async (input: { n: number }, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1 && reasons.length < 2) {
            reasons.push(await abortReason(ctx.signal));
            throw ctx.signal.reason;
          }
          return input.n;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const first = k.worker({ concurrency: 2 });
      const jobs = await conveyor.enqueueMany(task, [{ input: { n: 1 } }, { input: { n: 2 } }]);
      await k.waitFor(() => attempts.length === 2, "both jobs running");

      await first.close({ drain: false });
      await k.waitFor(() => reasons.length === 2, "both handlers to see their signal abort");
      for (const reason of reasons) expectConveyorError(reason, "WorkerClosingError");
      for (const job of jobs) {
        const record = await job.get();
        expect(record.state).toBe("waiting");
        expect(record.attempt).toBe(0);
        expect(record.workerId).toBeUndefined();
      }

      k.worker({ concurrency: 2 });
      expect(await jobs[0]!.result({ timeoutMs: k.ms(5_000) })).toBe(1);
      expect(await jobs[1]!.result({ timeoutMs: k.ms(5_000) })).toBe(2);
      expect(attempts).toEqual([1, 1, 1, 1]);
      for (const job of jobs) expect((await job.get()).attempt).toBe(1);
    });

    it("close without drain while a drain is in progress stops at once (a second SIGTERM)", async () => {
      const k = kit();
      const started = k.gate();
      let reason: unknown;
      const task = defineTask({
        name: "conformance.stubborn",
        run: async (_input: unknown, ctx) => {
          if (ctx.attempt > 1 || reason !== undefined) return "rerun";
          started.resolve();
          reason = await abortReason(ctx.signal);
          throw ctx.signal.reason;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const worker = k.worker();
      const job = await conveyor.enqueue(task, null);
      await started.promise;
      const draining = worker.close({ drain: true });
      await sleep(k.ms(30));
      expect(await job.status()).toBe("active");
      await worker.close({ drain: false });
      await draining;
      expectConveyorError(reason, "WorkerClosingError");
      expect(await job.get()).toMatchObject({ state: "waiting", attempt: 0 });
      k.worker();
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("rerun");
    });

    it("a job released by close without drain before its task started does not run on the closing worker", async () => {
      const k = kit();
      const validating = k.gate();
      const proceed = k.gate();
      let runs = 0;
      const task = defineTask({
        name: "conformance.slowInput",
        input: slowSchema<{ n: number }>(() => {
          if (proceed.settled) return undefined;
          validating.resolve();
          return proceed.promise;
        }),
        run: () => {
          runs += 1;
          return "ran";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const first = k.worker();
      const raw = k.newJob({ task: "conformance.slowInput", input: { n: 1 } });
      await k.queue.add([raw]);
      await validating.promise;
      const closing = first.close({ drain: false });
      await sleep(k.ms(30));
      proceed.resolve();
      await closing;
      await sleep(k.ms(30));
      expect(runs).toBe(0);
      expect(await k.queue.getJob(raw.id)).toMatchObject({ state: "waiting", attempt: 0 });
      k.worker();
      expect(await conveyor.job(raw.id).result({ timeoutMs: k.ms(5_000) })).toBe("ran");
      expect(runs).toBe(1);
    });

    it("worker.closed resolves after close, and closing twice is safe", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.noop", run: () => null });
      await k.platform({ tasks: [task] });
      const worker = k.worker({ concurrency: 2 });
      expect(worker.concurrency).toBe(2);
      expect(worker.queues).toEqual([k.queueName()]);
      let resolved = false;
      void worker.closed.then(() => {
        resolved = true;
      });
      await Promise.all([worker.close(), worker.close()]);
      await worker.close();
      await k.waitFor(() => resolved, "worker.closed to resolve");
      expect(worker.active).toBe(0);
    });

    it("closing the platform drains its workers", async () => {
      const k = kit();
      const hold = k.gate();
      const started = k.gate();
      const task = defineTask({
        name: "conformance.held",
        run: async () => {
          started.resolve();
          await hold.promise;
          return "finished";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      await started.promise;
      const closing = conveyor.close();
      await sleep(k.ms(30));
      hold.resolve();
      await closing;
      expect(await k.queue.getJob(job.id)).toMatchObject({ state: "completed", result: "finished" });
    });
  });
}
