import { createBeeQueue } from "@conveyor/bee-queue";
import { type JobEvent, silentLogger } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { completedIds, echoJobs, expectNoneLost, produceThroughRestart } from "../support/faults.js";
import { killLeftovers, startWorker } from "../support/processes.js";

const startFaultWorker = (args: (string | number)[]) => startWorker("bee-queue/fixtures/worker.ts", args);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  killLeftovers();
  for (const close of closers.splice(0).reverse()) await close();
});

describe("bee-queue faults", () => {
  it("kill -9 of a worker holding jobs: Bee-Queue's stall check recovers them and another worker completes every job once", async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    closers.push(() => queue.close());
    const stalled: JobEvent[] = [];
    await queue.subscribe((event) => stalled.push(event), { queue: name });
    const total = 300;
    const concurrency = 10;
    await queue.add(echoJobs(prefix, name, 0, total));

    // leaseMs is Bee-Queue's stallInterval: a dead worker's jobs are back within two of them.
    const first = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 250, 40]);
    // Killed while it holds jobs (a loaded machine may leave a worker idle for a moment).
    await waitFor(
      async () => {
        const counts = await queue.counts(name);
        return counts.completed >= 60 && counts.active >= 3;
      },
      { timeoutMs: 15_000, message: "60 jobs done and some running" },
    );
    first.child.kill("SIGKILL");
    await first.exited;
    const inFlight = (await queue.counts(name)).active;
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(concurrency);

    const second = startFaultWorker([redis.url, prefix, name, concurrency, 1_000, 250, 15]);
    await waitFor(async () => (await queue.counts(name)).completed === total, {
      timeoutMs: 30_000,
      message: "every job completed",
    });
    const ids = await completedIds(queue, name);
    expect(new Set(ids).size).toBe(total);
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
    // The recovery is visible as events: stalled, then waiting again, for each of those jobs.
    const stalledIds = new Set(stalled.filter((e) => e.type === "stalled").map((e) => e.jobId));
    expect([...stalledIds].sort()).toEqual([...new Set(rerun)].sort());
    expect(await queue.counts(name)).toMatchObject({ active: 0, waiting: 0, completed: total });
    second.child.kill("SIGTERM");
  }, 60_000);

  it("redis-server killed and restarted (AOF, fsync always) mid-run: no acknowledged enqueue is lost and the worker resumes by itself", async () => {
    const redis: RedisServerHandle = await startRedisServer({ appendonly: true, appendfsync: "always" });
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const producer = createBeeQueue({
      url: redis.url,
      prefix,
      log: silentLogger,
      checkPersistence: false,
      onError: () => {},
    });
    closers.push(() => producer.close());
    const worker = startFaultWorker([redis.url, prefix, name, 8, 2_000, 500, 2]);
    await worker.ready;

    const { acknowledged, refused } = await produceThroughRestart(redis, producer, prefix, name);

    // The same worker process, never restarted, finishes every acknowledged job.
    await expectNoneLost(producer, name, acknowledged);
    expect(worker.child.exitCode).toBeNull();
    // Enqueues during the outage were refused with an error, not silently dropped.
    expect(refused).toBeGreaterThan(0);
  }, 90_000);
});
