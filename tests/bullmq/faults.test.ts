import { createBullmqQueue } from "@conveyor/bullmq";
import { silentLogger } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { completedIds, echoJobs, expectNoneLost, produceThroughRestart } from "../support/faults.js";
import { killLeftovers, startWorker, type WorkerProcess } from "../support/processes.js";

interface BullmqWorker extends WorkerProcess {
  /** "aborted <id> <reason>" lines seen so far. */
  readonly aborted: { id: string; reason: string }[];
}

/** A worker process running the adapter from source (tsx), see fixtures/worker.ts. */
function startFaultWorker(args: (string | number)[]): BullmqWorker {
  const aborted: { id: string; reason: string }[] = [];
  const worker = startWorker("bullmq/fixtures/worker.ts", args, (line) => {
    const abort = /^aborted (\S+) (\S+)$/.exec(line);
    if (abort) aborted.push({ id: abort[1]!, reason: abort[2]! });
  });
  return { ...worker, aborted };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  killLeftovers();
  for (const close of closers.splice(0).reverse()) await close();
});

describe("bullmq queue faults", () => {
  it("kill -9 of a worker holding jobs: BullMQ's stalled-job checker hands them to another worker, each job completes once", async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const url = `bullmq+${redis.url}`;
    const queue = createBullmqQueue({ url, prefix, log: silentLogger, checkPersistence: false });
    closers.push(() => queue.close());
    const total = 300;
    const concurrency = 10;
    await queue.add(echoJobs(prefix, name, 0, total));

    // leaseMs is BullMQ's lockDuration; the stalled checker runs every 500 ms.
    const first = startFaultWorker([url, prefix, name, concurrency, 1_000, 15, 500]);
    await waitFor(async () => (await queue.counts(name)).completed >= 60, {
      timeoutMs: 15_000,
      message: "60 jobs done",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const inFlight = (await queue.counts(name)).active;
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(concurrency);

    const second = startFaultWorker([url, prefix, name, concurrency, 1_000, 15, 500]);
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
    // Runs beyond one per job: only the jobs the killed worker held, each once more, as attempt 2.
    const runs = first.starts.length + second.starts.length;
    // (A job claimed just before the kill may not have printed its start line yet.)
    expect(runs - total).toBeLessThanOrEqual(inFlight);
    expect(runs - total).toBeGreaterThanOrEqual(0);
    const rerun = second.starts.filter((s) => s.attempt === 2).map((s) => s.id);
    expect(rerun.length).toBe(inFlight);
    second.child.kill("SIGTERM");
  }, 60_000);

  it("cancel from another process aborts the running handler's signal there; the job ends cancelled", async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const url = `bullmq+${redis.url}`;
    const queue = createBullmqQueue({ url, prefix, log: silentLogger, checkPersistence: false });
    closers.push(() => queue.close());
    const worker = startFaultWorker([url, prefix, name, 2, 30_000, 1, 30_000]);
    await worker.ready;
    const [job] = echoJobs(prefix, name, 0, 1);
    await queue.add([{ ...job!, task: "faults.hold" }]);
    await waitFor(() => worker.starts.length === 1, { timeoutMs: 10_000, message: "the job to start" });
    expect(await queue.cancel(job!.id, { expiresAt: Date.now() + 60_000 })).toBe("requested");
    await waitFor(() => worker.aborted.length === 1, { timeoutMs: 5_000, message: "the handler to abort" });
    expect(worker.aborted[0]).toEqual({ id: job!.id, reason: "JobCancelledError" });
    const record = await waitFor(
      async () => {
        const current = await queue.getJob(job!.id);
        return current?.state === "cancelled" ? current : undefined;
      },
      { timeoutMs: 5_000, message: "the job to be cancelled" },
    );
    expect(record.error).toMatchObject({ name: "JobCancelledError" });
    expect(await queue.counts(name)).toMatchObject({ active: 0, cancelled: 1, failed: 0 });
  }, 30_000);

  it("redis-server killed and restarted (AOF, fsync always) mid-run: no acknowledged enqueue is lost and the worker resumes by itself", async () => {
    const redis: RedisServerHandle = await startRedisServer({ appendonly: true, appendfsync: "always" });
    closers.push(() => redis.stop());
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const url = `bullmq+${redis.url}`;
    const producer = createBullmqQueue({ url, prefix, log: silentLogger, checkPersistence: false });
    closers.push(() => producer.close());
    const worker = startFaultWorker([url, prefix, name, 8, 2_000, 2, 1_000]);
    await worker.ready;

    const { acknowledged, refused, beforeRestart } = await produceThroughRestart(
      redis,
      producer,
      prefix,
      name,
    );

    // The same worker process, never restarted, finishes every acknowledged job.
    const done = await expectNoneLost(producer, name, acknowledged);
    expect(worker.child.exitCode).toBeNull();
    // Every attempt that was refused was retried by the producer under a new id: none completed twice.
    expect(done.size).toBe((await producer.counts(name)).completed);
    expect(refused + acknowledged.length).toBeGreaterThan(beforeRestart);
  }, 90_000);
});
