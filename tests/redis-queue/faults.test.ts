import { type QueueAdapter, silentLogger } from "@conveyor/core";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { completedIds, echoJobs, expectNoneLost, produceThroughRestart } from "../support/faults.js";
import { killLeftovers, startWorker } from "../support/processes.js";

const startFaultWorker = (args: (string | number)[]) => startWorker("redis-queue/fixtures/worker.ts", args);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  killLeftovers();
  for (const close of closers.splice(0).reverse()) await close();
});

/** Counts `completed` events per job id from now on: each job must be completed exactly once. */
async function countCompletions(queue: QueueAdapter, name: string): Promise<Map<string, number>> {
  const completions = new Map<string, number>();
  const unsubscribe = await queue.subscribe(
    (event) => {
      if (event.type === "completed") completions.set(event.jobId, (completions.get(event.jobId) ?? 0) + 1);
    },
    { queue: name },
  );
  closers.push(unsubscribe);
  return completions;
}

function expectEachOnce(completions: Map<string, number>, ids: readonly string[]): void {
  expect(completions.size).toBe(ids.length);
  for (const id of ids) expect(completions.get(id), id).toBe(1);
}

describe("redis queue faults", () => {
  it("kill -9 of a worker holding jobs: every job completes once, re-runs bounded by the jobs in flight", async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    closers.push(() => queue.close());
    const total = 300;
    const concurrency = 10;
    const completions = await countCompletions(queue, name);
    await queue.add(echoJobs(prefix, name, 0, total));

    const first = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 15]);
    await waitFor(async () => (await queue.counts(name)).completed >= 60, {
      timeoutMs: 15_000,
      message: "60 jobs done",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const inFlight = (await queue.counts(name)).active;
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(concurrency);

    const second = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 15]);
    await waitFor(async () => (await queue.counts(name)).completed === total, {
      timeoutMs: 30_000,
      message: "every job completed",
    });
    const ids = await completedIds(queue, name);
    expect(new Set(ids).size).toBe(total);
    await waitFor(() => completions.size === total, { message: "every completed event read" });
    expectEachOnce(completions, ids);
    for (const id of ids.slice(0, 20)) {
      const record = await queue.getJob(id);
      expect(record?.result).toBe(Number(id.slice(prefix.length + 1)));
    }
    // Runs beyond one per job: only the jobs the killed worker held, each once more.
    const runs = first.starts.length + second.starts.length;
    expect(runs - total).toBeLessThanOrEqual(inFlight);
    expect(runs - total).toBeGreaterThanOrEqual(0);
    const rerun = second.starts.filter((s) => s.attempt === 2).map((s) => s.id);
    expect(rerun.length).toBe(inFlight);
    second.child.kill("SIGTERM");
  }, 60_000);

  it("kill -9 of one of two workers: the live one recovers its jobs by itself, each completed once", async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    closers.push(() => queue.close());
    const total = 400;
    const concurrency = 10;
    const completions = await countCompletions(queue, name);
    await queue.add(echoJobs(prefix, name, 0, total));

    const doomed = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 20]);
    const survivor = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 20]);
    const [doomedId, survivorId] = await Promise.all([doomed.ready, survivor.ready]);
    // Both really at work (a slow start under load would leave one idle).
    await waitFor(
      async () =>
        doomed.starts.length >= 30 &&
        survivor.starts.length >= 30 &&
        (await queue.counts(name)).completed >= 80,
      { timeoutMs: 15_000, message: "both workers busy and 80 jobs done" },
    );
    doomed.child.kill("SIGKILL");
    await doomed.exited;
    // What the dead worker held, read before its 1 s leases run out.
    const active = await queue.listJobs({ queue: name, states: ["active"], limit: 1_000 });
    const held = active.filter((job) => job.workerId === doomedId).map((job) => job.id);
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThanOrEqual(concurrency);
    expect(active.every((job) => job.workerId === doomedId || job.workerId === survivorId)).toBe(true);

    // Nobody restarts anything: the survivor finds the expired leases itself.
    await waitFor(async () => (await queue.counts(name)).completed === total, {
      timeoutMs: 30_000,
      message: "every job completed",
    });
    const ids = await completedIds(queue, name);
    await waitFor(() => completions.size === total, { message: "every completed event read" });
    expectEachOnce(completions, ids);
    for (const id of held) {
      const record = await queue.getJob(id);
      expect(record).toMatchObject({
        state: "completed",
        attempt: 2,
        result: Number(id.slice(prefix.length + 1)),
      });
    }
    const runs = doomed.starts.length + survivor.starts.length;
    expect(runs - total).toBeGreaterThanOrEqual(0);
    expect(runs - total).toBeLessThanOrEqual(held.length);
    const rerun = survivor.starts.filter((s) => s.attempt === 2).map((s) => s.id);
    expect(rerun.sort()).toEqual([...held].sort());
    expect(survivor.child.exitCode).toBeNull();
  }, 60_000);

  it("redis-server killed and restarted (AOF, fsync always) mid-run: no acknowledged enqueue is lost and workers resume by themselves", async () => {
    const redis: RedisServerHandle = await startRedisServer({ appendonly: true, appendfsync: "always" });
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const producer = createRedisQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false });
    closers.push(() => producer.close());
    const completions = await countCompletions(producer, name);
    const worker = startFaultWorker([redis.url, prefix, name, 8, 2_000, 2]);
    await worker.ready;

    const { acknowledged, refused } = await produceThroughRestart(redis, producer, prefix, name);

    // The same worker process, never restarted, finishes every acknowledged job.
    const done = await expectNoneLost(producer, name, acknowledged);
    expect(worker.child.exitCode).toBeNull();
    // The producer did see the outage: the run really went through a restart.
    expect(refused).toBeGreaterThan(0);
    // The event stream survived too (AOF), and outcomes re-sent after the restart were not
    // applied twice.
    await waitFor(() => completions.size >= done.size, { message: "every completed event read" });
    expectEachOnce(completions, [...done]);
  }, 90_000);
});
