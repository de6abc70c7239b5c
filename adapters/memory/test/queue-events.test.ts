import type { JobEvent } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { createMemoryQueue } from "../src/index.js";
import { completed, deferred, newJob, until } from "./helpers.js";

describe("memory queue: events", () => {
  it("delivers a job's lifecycle in order, filtered by job and queue", async () => {
    const queue = createMemoryQueue();
    const all: JobEvent[] = [];
    const one: JobEvent[] = [];
    const other: JobEvent[] = [];
    await queue.subscribe((event) => all.push(event));
    await queue.subscribe((event) => one.push(event), { jobId: "e1" });
    await queue.subscribe((event) => other.push(event), { queue: "other" });
    await queue.add([newJob({ id: "e1", maxAttempts: 2 }), newJob({ id: "e2" })]);
    const consumer = queue.consume({ queues: ["default"], concurrency: 2, workerId: "w" }, async (job) => {
      await job.progress({ current: 1, total: 2 });
      if (job.record.id === "e1" && job.record.attempt === 1) throw new Error("again");
      return completed({ id: job.record.id });
    });
    await until(() => one.some((event) => event.type === "completed"));
    expect(one.map((event) => event.type)).toEqual([
      "added",
      "active",
      "progress",
      "retrying",
      "waiting",
      "active",
      "progress",
      "completed",
    ]);
    expect(one.at(-1)).toMatchObject({ jobId: "e1", queue: "default", attempt: 2, result: { id: "e1" } });
    expect(one[3]).toMatchObject({ error: { message: "again", attempt: 1 } });
    expect(all.filter((event) => event.jobId === "e2").map((event) => event.type)).toEqual([
      "added",
      "active",
      "progress",
      "completed",
    ]);
    expect(other).toEqual([]);
    await consumer.close();
    await queue.close();
  });

  it("emits delayed, cancelled and removed", async () => {
    const queue = createMemoryQueue();
    const events: JobEvent[] = [];
    await queue.subscribe((event) => events.push(event));
    const runAt = Date.now() + 60_000;
    await queue.add([newJob({ id: "later", runAt })]);
    await queue.cancel("later");
    await queue.remove("later");
    await until(() => events.length === 4);
    expect(events.map((event) => event.type)).toEqual(["added", "delayed", "cancelled", "removed"]);
    expect(events[1]?.runAt).toBe(runAt);
    await queue.close();
  });

  it("isolates a throwing listener: others still get events and the queue keeps working", async () => {
    const errors: unknown[] = [];
    const queue = createMemoryQueue({ onError: (error) => errors.push(error) });
    const seen: string[] = [];
    await queue.subscribe(() => {
      throw new Error("bad listener");
    });
    await queue.subscribe((event) => seen.push(event.type));
    await queue.add([newJob({ id: "t" })]);
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async () =>
      completed(),
    );
    await until(() => seen.includes("completed"));
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect((errors[0] as Error).message).toBe("bad listener");
    await consumer.close();
    await queue.close();
  });

  it("hands listeners copies, sees only events after subscribing, and stops after unsubscribing", async () => {
    const queue = createMemoryQueue();
    await queue.add([newJob({ id: "before" })]);
    const events: JobEvent[] = [];
    const unsubscribe = await queue.subscribe((event) => {
      events.push(event);
      if (event.result) (event.result as { list: number[] }).list.push(666);
    });
    const release = deferred();
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async () => {
      await release.promise;
      return completed({ list: [1] });
    });
    release.resolve();
    await until(() => events.some((event) => event.type === "completed"));
    expect(events.map((event) => event.type)).toEqual(["active", "completed"]);
    expect((await queue.getJob("before"))?.result).toEqual({ list: [1] });
    await unsubscribe();
    await queue.add([newJob({ id: "after" })]);
    await until(async () => (await queue.getJob("after"))?.state === "completed");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(events.some((event) => event.jobId === "after")).toBe(false);
    await consumer.close();
    await queue.close();
  });

  it("delivers events to subscribers of every adapter sharing a named store", async () => {
    const producer = createMemoryQueue({ store: "events-shared" });
    const watcher = createMemoryQueue({ store: "events-shared" });
    const events: string[] = [];
    await watcher.subscribe((event) => events.push(`${event.type}:${event.jobId}`));
    await producer.add([newJob({ id: "x" })]);
    await until(() => events.length === 1);
    expect(events).toEqual(["added:x"]);
    await producer.close();
    await watcher.close();
  });
});
