import { ClosedError, JOB_STATES, ValidationError } from "@conveyor/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryQueue, MEMORY_QUEUE_CAPABILITIES } from "../src/index.js";
import { completed, newJob, until } from "./helpers.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("memory queue: storing and inspecting", () => {
  it("declares every capability but persistence and sharing across processes", () => {
    expect(createMemoryQueue().capabilities).toEqual({
      delayed: true,
      priority: true,
      pause: true,
      cancelActive: true,
      events: true,
      progress: true,
      results: true,
      persistent: false,
      shared: false,
    });
    expect(Object.isFrozen(MEMORY_QUEUE_CAPABILITIES)).toBe(true);
  });

  it("dedupes by id, also within one bulk add", async () => {
    const queue = createMemoryQueue();
    const first = newJob({ id: "same", input: { v: 1 } });
    const [a, b] = await queue.add([first, { ...first, input: { v: 2 } }]);
    expect(a?.created).toBe(true);
    expect(b?.created).toBe(false);
    expect(b?.job.input).toEqual({ v: 1 });
    const [c] = await queue.add([{ ...first, input: { v: 3 } }]);
    expect(c).toMatchObject({ created: false, job: { id: "same", input: { v: 1 } } });
    await queue.close();
  });

  it("stores a deep copy of the input and returns copies", async () => {
    const queue = createMemoryQueue();
    const input = { nested: { list: [1, 2] }, when: new Date(0) };
    const [added] = await queue.add([newJob({ id: "iso", input })]);
    input.nested.list.push(3);
    (added!.job.input as typeof input).nested.list.push(4);
    const read = await queue.getJob("iso");
    expect(read?.input).toEqual({ nested: { list: [1, 2] }, when: new Date(0) });
    (read!.input as typeof input).nested.list.push(5);
    const [listed] = await queue.listJobs();
    expect(listed?.input).toEqual({ nested: { list: [1, 2] }, when: new Date(0) });
    await queue.close();
  });

  it("refuses an input it cannot copy, and adds none of the batch", async () => {
    const queue = createMemoryQueue();
    const bad = newJob({ id: "bad", input: { fn: () => 1 } });
    await expect(queue.add([newJob({ id: "good" }), bad])).rejects.toBeInstanceOf(ValidationError);
    expect(await queue.getJob("good")).toBeUndefined();
    await expect(queue.add([newJob({ id: "" })])).rejects.toBeInstanceOf(ValidationError);
    await queue.close();
  });

  it("lists newest first with filters, offset and limit; counts every state", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    await queue.add([
      newJob({ id: "old", createdAt: now - 30 }),
      newJob({ id: "mid", createdAt: now - 20, queue: "other" }),
      newJob({ id: "new", createdAt: now - 10 }),
      newJob({ id: "later", createdAt: now - 10, runAt: now + 60_000 }),
    ]);
    expect((await queue.listJobs()).map((job) => job.id)).toEqual(["later", "new", "mid", "old"]);
    expect((await queue.listJobs({ queue: "default", states: ["waiting"] })).map((job) => job.id)).toEqual([
      "new",
      "old",
    ]);
    expect((await queue.listJobs({ offset: 1, limit: 2 })).map((job) => job.id)).toEqual(["new", "mid"]);
    await expect(queue.listJobs({ limit: -1 })).rejects.toBeInstanceOf(ValidationError);

    const counts = await queue.counts("default");
    expect(Object.keys(counts).sort()).toEqual([...JOB_STATES].sort());
    expect(counts).toMatchObject({ waiting: 2, delayed: 1, active: 0 });
    expect(await queue.counts("never-used")).toEqual(Object.fromEntries(JOB_STATES.map((s) => [s, 0])));
    expect(await queue.queues()).toEqual([
      { name: "default", paused: false },
      { name: "other", paused: false },
    ]);
    await queue.close();
  });

  it("cancels pending jobs, retries failed and cancelled ones with a fresh budget, removes inactive ones", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "w" }), newJob({ id: "d", runAt: Date.now() + 60_000 })]);
    expect(await queue.cancel("w")).toBe("cancelled");
    expect(await queue.cancel("d")).toBe("cancelled");
    expect(await queue.cancel("w")).toBe("finished");
    expect(await queue.cancel("nope")).toBe("not-found");

    const retried = await queue.retry("d");
    expect(retried).toMatchObject({ id: "d", state: "waiting", attempt: 0 });
    expect(retried?.finishedAt).toBeUndefined();
    expect(await queue.retry("d")).toBeUndefined();
    expect(await queue.retry("nope")).toBeUndefined();

    expect(await queue.remove("w")).toBe(true);
    expect(await queue.remove("w")).toBe(false);
    expect(await queue.getJob("w")).toBeUndefined();
    await queue.close();
  });

  it("never removes or purges an active job", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "busy" }), newJob({ id: "idle", queue: "q2" })]);
    const consumer = queue.consume(
      { queues: ["default"], concurrency: 1, workerId: "w" },
      () => new Promise(() => {}),
    );
    await until(() => consumer.active === 1);
    expect(await queue.remove("busy")).toBe(false);
    expect(await queue.purge("default", { states: [...JOB_STATES] })).toBe(0);
    expect((await queue.getJob("busy"))?.state).toBe("active");
    expect(await queue.purge("q2")).toBe(1);
    await consumer.close({ drain: false });
    await queue.close();
  });

  it("purges by state and age (finish time for finished jobs)", async () => {
    vi.useFakeTimers();
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "a" }), newJob({ id: "b" })]);
    await queue.cancel("a");
    vi.advanceTimersByTime(1_000);
    await queue.add([newJob({ id: "c" })]);
    expect(await queue.purge("default", { states: ["cancelled"], olderThanMs: 2_000 })).toBe(0);
    expect(await queue.purge("default", { olderThanMs: 500 })).toBe(2);
    expect((await queue.listJobs()).map((job) => job.id)).toEqual(["c"]);
    await queue.close();
  });

  it("forgets finished jobs once their expiresAt passes", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "short" }), newJob({ id: "kept" })]);
    const consumer = queue.consume({ queues: ["default"], concurrency: 2, workerId: "w" }, async (job) => ({
      type: "completed",
      result: job.record.id,
      ...(job.record.id === "short" ? { expiresAt: Date.now() + 40 } : {}),
    }));
    await until(async () => (await queue.counts("default")).completed === 2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await queue.getJob("short")).toBeUndefined();
    expect((await queue.getJob("kept"))?.result).toBe("kept");
    expect((await queue.counts("default")).completed).toBe(1);
    expect((await queue.listJobs()).map((job) => job.id)).toEqual(["kept"]);
    await consumer.close();
    await queue.close();
  });

  it("throws ClosedError after close, and close is idempotent", async () => {
    const queue = createMemoryQueue();
    await queue.close();
    await queue.close();
    await expect(queue.add([newJob()])).rejects.toBeInstanceOf(ClosedError);
    await expect(queue.getJob("x")).rejects.toBeInstanceOf(ClosedError);
    expect(() =>
      queue.consume({ queues: ["q"], concurrency: 1, workerId: "w" }, async () => completed()),
    ).toThrow(ClosedError);
  });

  it("closing the adapter releases the jobs of consumers left open", async () => {
    const queue = createMemoryQueue({ store: "left-open" });
    const observer = createMemoryQueue({ store: "left-open" });
    await queue.add([newJob({ id: "held" })]);
    const consumer = queue.consume(
      { queues: ["default"], concurrency: 1, workerId: "w" },
      () => new Promise(() => {}),
    );
    await until(() => consumer.active === 1);
    await queue.close();
    expect((await observer.getJob("held"))?.state).toBe("waiting");
    await observer.close();
  });
});

describe("memory queue: delayed jobs and the one timer", () => {
  it("promotes delayed jobs in runAt order with a single timer", async () => {
    vi.useFakeTimers();
    const queue = createMemoryQueue();
    const now = Date.now();
    // Added latest-first, so each add moves the timer earlier.
    const jobs = Array.from({ length: 1_000 }, (_, i) =>
      newJob({ id: `d${999 - i}`, runAt: now + 1_000 + (999 - i) }),
    );
    await queue.add(jobs);
    expect(vi.getTimerCount()).toBe(1);
    expect((await queue.counts("default")).delayed).toBe(1_000);

    const order: string[] = [];
    const consumer = queue.consume({ queues: ["default"], concurrency: 4, workerId: "w" }, async (job) => {
      order.push(job.record.id);
      return completed();
    });
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(500);
    expect(order).toEqual(Array.from({ length: 500 }, (_, i) => `d${i}`));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(order).toHaveLength(1_000);
    await consumer.close();
    await queue.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("retries with backoff through the timer and counts them as retrying meanwhile", async () => {
    vi.useFakeTimers();
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "flaky", maxAttempts: 2, backoff: { type: "fixed", delayMs: 5_000 } })]);
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      if (job.record.attempt === 1) throw new Error("once");
      return completed("second time");
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(await queue.getJob("flaky")).toMatchObject({ state: "retrying", attempt: 1 });
    expect((await queue.counts("default")).retrying).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await queue.getJob("flaky")).toMatchObject({
      state: "completed",
      attempt: 2,
      result: "second time",
    });
    await consumer.close();
    await queue.close();
  });

  it("does not keep the process alive for expiry sweeps or without consumers", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "far", runAt: Date.now() + 60_000 })]);
    const active = () =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((r) => r === "Timeout").length;
    const before = active();
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async () =>
      completed(),
    );
    // A consumer waiting for a delayed job keeps the process up until the job's time.
    expect(active()).toBe(before + 1);
    await consumer.close();
    expect(active()).toBe(before);
    await queue.close();
  });
});
