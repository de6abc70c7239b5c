import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createBullmqQueue } from "@conveyor/bullmq";
import { type NewJob, type QueueAdapter, silentLogger } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";

const testsDir = fileURLToPath(new URL("..", import.meta.url));

interface WorkerProcess {
  readonly child: ChildProcess;
  /** "start <id> <attempt>" lines seen so far. */
  readonly starts: { id: string; attempt: number }[];
  /** "aborted <id> <reason>" lines seen so far. */
  readonly aborted: { id: string; reason: string }[];
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

/** A worker process running the adapter from source (tsx), see fixtures/worker.ts. */
function startWorker(args: (string | number)[]): WorkerProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "bullmq/fixtures/worker.ts", ...args.map(String)],
    {
      cwd: testsDir,
      env: { ...process.env, TSX_TSCONFIG_PATH: "bullmq/tsconfig.json" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  const starts: { id: string; attempt: number }[] = [];
  const aborted: { id: string; reason: string }[] = [];
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    let end = buffer.indexOf("\n");
    while (end !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line === "ready") markReady();
      const match = /^start (\S+) (\d+)$/.exec(line);
      if (match) starts.push({ id: match[1]!, attempt: Number(match[2]) });
      const abort = /^aborted (\S+) (\S+)$/.exec(line);
      if (abort) aborted.push({ id: abort[1]!, reason: abort[2]! });
      end = buffer.indexOf("\n");
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, starts, aborted, ready, exited };
}

const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const close of closers.splice(0).reverse()) await close();
});

function jobs(prefix: string, queue: string, from: number, count: number): NewJob[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${from + i}`,
    queue,
    task: "faults.echo",
    input: { n: from + i },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 4,
  }));
}

async function completedIds(queue: QueueAdapter, name: string): Promise<string[]> {
  const done = await queue.listJobs({ queue: name, states: ["completed"], limit: 100_000 });
  return done.map((job) => job.id);
}

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
    await queue.add(jobs(prefix, name, 0, total));

    // leaseMs is BullMQ's lockDuration; the stalled checker runs every 500 ms.
    const first = startWorker([url, prefix, name, concurrency, 1_000, 15, 500]);
    await waitFor(async () => (await queue.counts(name)).completed >= 60, {
      timeoutMs: 15_000,
      message: "60 jobs done",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const inFlight = (await queue.counts(name)).active;
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(concurrency);

    const second = startWorker([url, prefix, name, concurrency, 1_000, 15, 500]);
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
    const worker = startWorker([url, prefix, name, 2, 30_000, 1, 30_000]);
    await worker.ready;
    const [job] = jobs(prefix, name, 0, 1);
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
    const worker = startWorker([url, prefix, name, 8, 2_000, 2, 1_000]);
    await worker.ready;

    const acknowledged: string[] = [];
    let refused = 0;
    let producing = true;
    const produce = (async () => {
      for (let n = 0; producing; n++) {
        try {
          const [added] = await producer.add(jobs(prefix, name, n, 1));
          acknowledged.push(added!.job.id);
        } catch {
          refused++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    })();
    await waitFor(() => acknowledged.length >= 200, { timeoutMs: 15_000, message: "200 enqueued" });
    await redis.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.restart();
    const afterRestart = acknowledged.length;
    await waitFor(() => acknowledged.length >= afterRestart + 200, {
      timeoutMs: 20_000,
      message: "enqueueing to resume",
    });
    producing = false;
    await produce;

    // The same worker process, never restarted, finishes every acknowledged job.
    await waitFor(async () => (await producer.counts(name)).completed >= acknowledged.length, {
      timeoutMs: 30_000,
      message: "every acknowledged job completed",
    });
    const done = new Set(await completedIds(producer, name));
    const lost = acknowledged.filter((id) => !done.has(id));
    expect(lost).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
    // Every attempt that was refused was retried by the producer under a new id: none completed twice.
    expect(done.size).toBe((await producer.counts(name)).completed);
    expect(refused + acknowledged.length).toBeGreaterThan(afterRestart);
  }, 90_000);
});
