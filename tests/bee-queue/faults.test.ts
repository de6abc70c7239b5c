import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createBeeQueue } from "@conveyor/bee-queue";
import { type JobEvent, type NewJob, type QueueAdapter, silentLogger } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";

const testsDir = fileURLToPath(new URL("..", import.meta.url));

interface WorkerProcess {
  readonly child: ChildProcess;
  /** "start <id> <attempt>" lines seen so far. */
  readonly starts: { id: string; attempt: number }[];
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

/** A worker process running the adapter from source (tsx), see fixtures/worker.ts. */
function startWorker(args: (string | number)[]): WorkerProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "bee-queue/fixtures/worker.ts", ...args.map(String)],
    {
      cwd: testsDir,
      env: { ...process.env, TSX_TSCONFIG_PATH: "bee-queue/tsconfig.json" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  const starts: { id: string; attempt: number }[] = [];
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
      end = buffer.indexOf("\n");
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, starts, ready, exited };
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
    await queue.add(jobs(prefix, name, 0, total));

    // leaseMs is Bee-Queue's stallInterval: a dead worker's jobs are back within two of them.
    const first = startWorker([redis.url, prefix, name, concurrency, 1_000, 250, 40]);
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

    const second = startWorker([redis.url, prefix, name, concurrency, 1_000, 250, 15]);
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
    const worker = startWorker([redis.url, prefix, name, 8, 2_000, 500, 2]);
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
    // Enqueues during the outage were refused with an error, not silently dropped.
    expect(refused).toBeGreaterThan(0);
  }, 90_000);
});
