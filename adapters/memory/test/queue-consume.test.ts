import { JobCancelledError, type Outcome, WorkerClosingError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { createMemoryQueue } from "../src/index.js";
import { completed, deferred, newJob, until } from "./helpers.js";

describe("memory queue: consuming", () => {
  it("never runs more than `concurrency` handlers, under load", async () => {
    const queue = createMemoryQueue();
    const total = 10_000;
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    const consumer = queue.consume({ queues: ["default"], concurrency: 7, workerId: "w" }, async (job) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Mix microtask and macrotask waits so handlers finish out of order.
      if ((job.record.input as { n: number }).n % 3 === 0)
        await new Promise((resolve) => setImmediate(resolve));
      else await Promise.resolve();
      inFlight--;
      done++;
      return completed();
    });
    // Add while consuming, in several batches, so wake-ups and claims interleave.
    for (let batch = 0; batch < 10; batch++) {
      await queue.add(Array.from({ length: total / 10 }, () => newJob()));
      expect(consumer.active).toBeLessThanOrEqual(7);
    }
    await until(() => done === total, 10_000);
    expect(maxInFlight).toBe(7);
    await consumer.close();
    expect((await queue.counts("default")).completed).toBe(total);
    await queue.close();
  });

  it("wakes at once when a job is added, without polling", async () => {
    const queue = createMemoryQueue();
    const ran: string[] = [];
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      ran.push(job.record.id);
      return completed();
    });
    // Let the consumer go idle first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await queue.add([newJob({ id: "wake-me" })]);
    // The wake-up is a microtask: the handler runs before the next turn of the event loop,
    // which any timer-based polling would need.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(["wake-me"]);
    await consumer.close();
    await queue.close();
  });

  it("gives the handler its own copy of the record, and stores a copy of the result", async () => {
    const queue = createMemoryQueue();
    const result = { items: [1, 2] };
    await queue.add([newJob({ id: "copy", input: { list: [1] } })]);
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      (job.record.input as { list: number[] }).list.push(99);
      return completed(result);
    });
    await until(async () => (await queue.getJob("copy"))?.state === "completed");
    result.items.push(3);
    const stored = await queue.getJob("copy");
    expect(stored?.input).toEqual({ list: [1] });
    expect(stored?.result).toEqual({ items: [1, 2] });
    await consumer.close();
    await queue.close();
  });

  it("treats a rejecting or throwing handler as an error: retry while attempts remain, then failed", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "boom", maxAttempts: 2 })]);
    let calls = 0;
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, (job) => {
      calls++;
      if (job.record.attempt === 1) return Promise.reject(new Error("first"));
      throw new Error("second, thrown synchronously");
    });
    await until(async () => (await queue.getJob("boom"))?.state === "failed");
    const job = await queue.getJob("boom");
    expect(calls).toBe(2);
    expect(job?.attempt).toBe(2);
    expect(job?.error).toMatchObject({ message: "second, thrown synchronously", attempt: 2 });
    await consumer.close();
    await queue.close();
  });

  it("stores progress and keeps it on the record", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "p" })]);
    const release = deferred();
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      await job.progress({ current: 3, total: 10, message: "three" });
      await release.promise;
      return completed();
    });
    await until(async () => (await queue.getJob("p"))?.progress?.current === 3);
    expect((await queue.getJob("p"))?.progress).toEqual({ current: 3, total: 10, message: "three" });
    release.resolve();
    await consumer.close();
    await queue.close();
  });

  it("cancels an active job through its signal and persists the cancelled outcome", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "c" })]);
    const reason = deferred<unknown>();
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, (job) => {
      return new Promise<Outcome>((resolve) => {
        job.signal.addEventListener("abort", () => {
          reason.resolve(job.signal.reason);
          resolve({ type: "cancelled" });
        });
      });
    });
    await until(async () => (await queue.getJob("c"))?.state === "active");
    expect(await queue.cancel("c")).toBe("requested");
    expect(await reason.promise).toBeInstanceOf(JobCancelledError);
    await until(async () => (await queue.getJob("c"))?.state === "cancelled");
    expect(await queue.cancel("c")).toBe("finished");
    await consumer.close();
    await queue.close();
  });

  it("aborts a signal first read after the cancel with the cancel's reason", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "late-signal" })]);
    const proceed = deferred();
    const seen = deferred<unknown>();
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      await proceed.promise;
      seen.resolve(job.signal.aborted ? job.signal.reason : undefined);
      return { type: "cancelled" };
    });
    await until(async () => (await queue.getJob("late-signal"))?.state === "active");
    expect(await queue.cancel("late-signal")).toBe("requested");
    proceed.resolve();
    expect(await seen.promise).toBeInstanceOf(JobCancelledError);
    await consumer.close();
    await queue.close();
  });

  it("close({ drain: true }) stops claiming, waits for running handlers and persists their outcomes", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "d1" }), newJob({ id: "d2" }), newJob({ id: "d3" })]);
    const release = deferred();
    const consumer = queue.consume({ queues: ["default"], concurrency: 2, workerId: "w" }, async () => {
      await release.promise;
      return completed("ok");
    });
    await until(() => consumer.active === 2);
    let closed = false;
    const closing = consumer.close({ drain: true }).then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);
    release.resolve();
    await closing;
    const counts = await queue.counts("default");
    expect(counts).toMatchObject({ completed: 2, waiting: 1, active: 0 });
    await queue.close();
  });

  it("close({ drain: false }) aborts handlers, releases their jobs at once and ignores late outcomes", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "r1", maxAttempts: 3 }), newJob({ id: "r2", maxAttempts: 3 })]);
    const reasons: unknown[] = [];
    const release = deferred();
    const consumer = queue.consume({ queues: ["default"], concurrency: 2, workerId: "w" }, async (job) => {
      job.signal.addEventListener("abort", () => reasons.push(job.signal.reason));
      await release.promise;
      return completed("too late");
    });
    await until(() => consumer.active === 2);
    await consumer.close({ drain: false });
    expect(consumer.active).toBe(0);
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason).toBeInstanceOf(WorkerClosingError);
    for (const id of ["r1", "r2"]) {
      const job = await queue.getJob(id);
      expect(job?.state).toBe("waiting");
      expect(job?.attempt).toBe(0);
      expect(job?.workerId).toBeUndefined();
    }
    release.resolve();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await queue.getJob("r1"))?.state).toBe("waiting");

    // Another consumer takes the released jobs.
    const next = queue.consume({ queues: ["default"], concurrency: 2, workerId: "w2" }, async (job) =>
      completed(job.record.attempt),
    );
    await until(async () => (await queue.counts("default")).completed === 2);
    expect((await queue.getJob("r1"))?.result).toBe(1);
    await next.close();
    await queue.close();
  });

  it("a job cancelled while its worker closes without draining ends cancelled, not waiting", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "cc" })]);
    const consumer = queue.consume(
      { queues: ["default"], concurrency: 1, workerId: "w" },
      () => new Promise<Outcome>(() => {}),
    );
    await until(() => consumer.active === 1);
    expect(await queue.cancel("cc")).toBe("requested");
    await consumer.close({ drain: false });
    expect((await queue.getJob("cc"))?.state).toBe("cancelled");
    await queue.close();
  });

  it("skips paused queues and resumes at once", async () => {
    const queue = createMemoryQueue();
    await queue.pause("default");
    await queue.add([newJob({ id: "paused" })]);
    const ran: string[] = [];
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      ran.push(job.record.id);
      return completed();
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ran).toEqual([]);
    expect(await queue.queues()).toEqual([{ name: "default", paused: true }]);
    await queue.resume("default");
    await until(() => ran.length === 1);
    await consumer.close();
    await queue.close();
  });
});
