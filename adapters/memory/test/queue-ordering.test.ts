import { compareReady, type JobRecord } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { createMemoryQueue } from "../src/index.js";
import { ReadyQueue } from "../src/ready-queue.js";
import { completed, newJob, until } from "./helpers.js";

/** Runs every job of `queues` one at a time and returns the ids in the order they ran. */
async function runOrder(queue: ReturnType<typeof createMemoryQueue>, queues: string[], expected: number) {
  const order: string[] = [];
  const consumer = queue.consume({ queues, concurrency: 1, workerId: "w" }, async (job) => {
    order.push(job.record.id);
    return completed();
  });
  await until(() => order.length === expected);
  await consumer.close();
  return order;
}

describe("memory queue: ready order", () => {
  it("claims by priority, then runAt, then createdAt, then insertion order across many priorities", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    // Deterministic pseudo-random priorities and times, with many ties.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const jobs = Array.from({ length: 3_000 }, (_, i) =>
      newJob({
        id: `j${i}`,
        priority: random(40) - 20,
        runAt: now - random(5),
        createdAt: now - random(3),
      }),
    );
    await queue.add(jobs);
    const order = await runOrder(queue, ["default"], jobs.length);

    const index = new Map(jobs.map((job, i) => [job.id, i]));
    const expected = [...jobs]
      .sort((a, b) => compareReady(a, b) || (index.get(a.id) as number) - (index.get(b.id) as number))
      .map((job) => job.id);
    expect(order).toEqual(expected);
    await queue.close();
  });

  it("keeps 10,000 equal jobs first-in first-out", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    const jobs = Array.from({ length: 10_000 }, (_, i) =>
      newJob({ id: `f${i}`, runAt: now, createdAt: now }),
    );
    await queue.add(jobs);
    const order = await runOrder(queue, ["default"], jobs.length);
    expect(order).toEqual(jobs.map((job) => job.id));
    await queue.close();
  });

  it("runs a promoted delayed job before newer jobs of the same priority (earlier runAt first)", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    await queue.add([newJob({ id: "delayed", runAt: now + 30, createdAt: now })]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const later = Date.now();
    await queue.add([newJob({ id: "fresh", runAt: later, createdAt: later })]);
    expect(await runOrder(queue, ["default"], 2)).toEqual(["delayed", "fresh"]);
    await queue.close();
  });

  it("stays exact after most waiting and delayed jobs were cancelled or removed", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    const waiting = Array.from({ length: 5_000 }, (_, i) => newJob({ id: `w${i}`, priority: i % 4 }));
    const delayed = Array.from({ length: 3_000 }, (_, i) => newJob({ id: `d${i}`, runAt: now + 60_000 + i }));
    await queue.add([...waiting, ...delayed]);
    for (let i = 0; i < 5_000; i++) if (i % 5 !== 0) await queue.cancel(`w${i}`);
    for (let i = 0; i < 3_000; i++) if (i % 3 !== 0) await queue.remove(`d${i}`);
    expect(await queue.counts("default")).toMatchObject({ waiting: 1_000, delayed: 1_000, cancelled: 4_000 });
    const survivors = waiting.filter((_, i) => i % 5 === 0);
    const expected = [...survivors]
      .sort((a, b) => b.priority - a.priority || Number(a.id.slice(1)) - Number(b.id.slice(1)))
      .map((job) => job.id);
    expect(await runOrder(queue, ["default"], 1_000)).toEqual(expected);
    expect(await queue.counts("default")).toMatchObject({ waiting: 0, delayed: 1_000, completed: 1_000 });
    await queue.close();
  });

  it("picks the best ready job across the queues a consumer listens to", async () => {
    const queue = createMemoryQueue();
    const now = Date.now();
    await queue.add([
      newJob({ id: "a-low", queue: "a", priority: 1, createdAt: now }),
      newJob({ id: "b-high", queue: "b", priority: 5, createdAt: now }),
      newJob({ id: "a-high-old", queue: "a", priority: 5, createdAt: now - 10, runAt: now - 10 }),
      newJob({ id: "c-top", queue: "c", priority: 9, createdAt: now }),
    ]);
    expect(await runOrder(queue, ["a", "b"], 3)).toEqual(["a-high-old", "b-high", "a-low"]);
    expect((await queue.getJob("c-top"))?.state).toBe("waiting");
    await queue.close();
  });
});

describe("ReadyQueue", () => {
  type Entry = Pick<JobRecord, "priority" | "runAt" | "createdAt"> & { seq: number; live: boolean };

  it("skips entries marked stale and compacts when most are stale", () => {
    const ready = new ReadyQueue<Entry>((entry) => entry.live);
    const entries: Entry[] = Array.from({ length: 5_000 }, (_, i) => ({
      priority: i % 3,
      runAt: 0,
      createdAt: i,
      seq: i,
      live: true,
    }));
    for (const entry of entries) ready.push(entry);
    for (const entry of entries) {
      if (entry.seq % 5 !== 0) {
        entry.live = false;
        ready.markStale();
      }
    }
    expect(ready.size).toBe(1_000);
    const popped: Entry[] = [];
    for (let entry = ready.pop(); entry !== undefined; entry = ready.pop()) popped.push(entry);
    expect(popped.every((entry) => entry.live)).toBe(true);
    expect(popped.map((entry) => entry.seq)).toEqual(
      entries
        .filter((entry) => entry.live)
        .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
        .map((entry) => entry.seq),
    );
    expect(ready.size).toBe(0);
  });

  it("merges out-of-order arrivals within a priority", () => {
    const ready = new ReadyQueue<Entry>(() => true);
    const make = (runAt: number, seq: number): Entry => ({
      priority: 0,
      runAt,
      createdAt: 0,
      seq,
      live: true,
    });
    for (const [runAt, seq] of [
      [10, 0],
      [20, 1],
      [5, 2],
      [30, 3],
      [15, 4],
      [1, 5],
    ] as const) {
      ready.push(make(runAt, seq));
    }
    const runAts: number[] = [];
    for (let entry = ready.pop(); entry !== undefined; entry = ready.pop()) runAts.push(entry.runAt);
    expect(runAts).toEqual([1, 5, 10, 15, 20, 30]);
  });
});
