import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type Conveyor, createCacheWorkerRegistry, createConveyor, type WorkerInfo } from "@conveyor/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerMemoryAdapter, runCli } from "../src/index.js";
import config from "./fixtures/basic/conveyor.config.js";
import { ensureBuilt } from "./support/build.js";
import { type CliRun, cleanEnv, cli } from "./support/cli.js";

// One named memory store per file: the test's producer, the CLI commands and a CLI worker all run
// in this process and share it (queue and cache). Cross-process runs on disk:// and redis:// are
// in tests/cli-control. The control fixture sets a 100 ms heartbeat, so commands land quickly.
const STORE = `memory://control-${randomUUID().slice(0, 8)}`;
const CONTROL = resolve(import.meta.dirname, "fixtures/control");
const url = ["--url", STORE];
let producer: Conveyor;

beforeAll(async () => {
  ensureBuilt([{ dir: "packages/core" }]);
  registerMemoryAdapter();
  producer = await createConveyor({ ...config, url: STORE, env: false, logger: false, heartbeat: false });
}, 180_000);
afterAll(() => producer.close());

const stops: AbortController[] = [];
const runs: Promise<CliRun>[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop.abort();
  await Promise.all(runs.splice(0));
  await producer.purge("default", {});
  await producer.purge("slow", {});
});

/** Starts `conveyor worker` (in this process) and waits for its first heartbeat. */
async function startWorker(args: string[] = []): Promise<{ run: Promise<CliRun>; info: WorkerInfo }> {
  const stop = new AbortController();
  stops.push(stop);
  const before = new Set((await producer.workers()).map((worker) => worker.id));
  const run = cli(["worker", ...url, ...args], { cwd: CONTROL, signal: stop.signal });
  runs.push(run);
  for (let i = 0; i < 200; i++) {
    const info = (await producer.workers()).find((worker) => !before.has(worker.id));
    if (info) return { run, info };
    await sleep(10);
  }
  throw new Error("the worker never reported itself");
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("conveyor inspect workers", () => {
  it("lists a live worker with host, pid, queues, concurrency and heartbeat (--json and table)", async () => {
    const { info } = await startWorker(["--concurrency", "2"]);
    const run = await cli(["inspect", "workers", ...url, "--json"], { cwd: CONTROL });
    expect(run.code).toBe(0);
    const listed = (JSON.parse(run.stdout) as WorkerInfo[]).find((worker) => worker.id === info.id);
    expect(listed).toMatchObject({
      pid: process.pid,
      queues: ["default", "slow"],
      concurrency: 2,
      active: 0,
    });
    expect(listed!.lastHeartbeatAt).toBeGreaterThanOrEqual(listed!.startedAt);

    const table = await cli(["inspect", "workers", ...url], { cwd: CONTROL });
    expect(table.stdout.split("\n")[0]).toMatch(
      /^ID +HOST +PID +QUEUES +CONCURRENCY +ACTIVE +HEARTBEAT +UPTIME$/,
    );
    expect(table.stdout).toMatch(
      new RegExp(`^${info.id} +\\S+ +${process.pid} +default,slow +2 +0 +\\d`, "m"),
    );
  });

  it("says so when no worker is live", async () => {
    const run = await cli(["inspect", "workers", "--url", `memory://empty-${randomUUID()}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("no worker has a live heartbeat");
    expect(run.stderr).toContain("is in-process");
  });
});

describe("conveyor inspect active", () => {
  it("lists running jobs with their worker, start time, runtime and progress", async () => {
    const { info } = await startWorker();
    const job = await producer.enqueue("demo.slow", { steps: 50, stepMs: 20 });
    await until(async () => (await job.get()).progress !== undefined, "progress");
    const run = await cli(["inspect", "active", ...url, "--json"]);
    expect(run.code).toBe(0);
    const [row, ...rest] = JSON.parse(run.stdout);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      id: job.id,
      task: "demo.slow",
      queue: "slow",
      workerId: info.id,
      attempt: 1,
    });
    expect(row.runtimeMs).toBeGreaterThanOrEqual(0);
    expect(row.progress.total).toBe(50);

    const table = await cli(["inspect", "active", ...url]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^ID +TASK +QUEUE +WORKER +STARTED +RUNTIME +ATTEMPT +PROGRESS$/,
    );
    expect(table.stdout).toContain(`${job.id}  demo.slow  slow   ${info.id}`);

    const other = await cli(["inspect", "active", ...url, "--queue", "default", "--json"]);
    expect(JSON.parse(other.stdout)).toEqual([]);
    await producer.cancel(job.id);
  });
});

describe("conveyor inspect stats", () => {
  it("counts jobs per queue and state, totals, recent throughput and worker slots", async () => {
    await startWorker();
    const done = await Promise.all([1, 2, 3].map((a) => producer.enqueue("demo.add", { a, b: 1 })));
    for (const job of done) await job.result({ timeoutMs: 5_000 });
    const failed = await producer.enqueue("demo.fail", {});
    await until(async () => (await failed.status()) === "failed", "the failure");
    await producer.enqueue("demo.add", { a: 1, b: 1 }, { delayMs: 60_000 });
    const run = await cli(["inspect", "stats", ...url, "--json"]);
    expect(run.code).toBe(0);
    const stats = JSON.parse(run.stdout);
    const queue = stats.queues.find((q: { name: string }) => q.name === "default");
    expect(queue.counts).toMatchObject({ completed: 3, failed: 1, delayed: 1 });
    expect(stats.totals).toMatchObject({ completed: 3, failed: 1, delayed: 1 });
    expect(stats.throughput).toMatchObject({ windowMs: 60_000, completed: 3, failed: 1, capped: false });
    expect(stats.throughput.perSecond).toBeCloseTo(4 / 60, 2);
    expect(stats.workers.count).toBeGreaterThanOrEqual(1);

    const table = await cli(["inspect", "stats", ...url]);
    expect(table.stdout).toMatch(/^\(all\) +0 +1 +0 +0 +3 +1 +0$/m);
    expect(table.stdout).toContain("last 1m 00s: 3 completed, 1 failed");
  });
});

describe("conveyor ping", () => {
  it("gets a reply from each live worker through its mailbox", async () => {
    const { info } = await startWorker();
    const run = await cli(["ping", ...url, "--json", "--timeout", "5000"]);
    expect(run.code).toBe(0);
    const row = (JSON.parse(run.stdout) as { id: string; ok: boolean; roundTripMs: number }[]).find(
      (r) => r.id === info.id,
    );
    expect(row).toMatchObject({ ok: true, pid: process.pid });
    expect(row!.roundTripMs).toBeGreaterThanOrEqual(0);

    const table = await cli(["ping", ...url, "--worker", info.id]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${info.id} .* pong in \\S+ +\\S+ ago$`, "m"));
  });

  it("exits 69 when no worker is live, or the named one is not", async () => {
    const none = await cli(["ping", "--url", `memory://empty-${randomUUID()}`, "--json"]);
    expect(none.code).toBe(69);
    expect(none.stderr).toContain("no worker has a live heartbeat");
    expect(JSON.parse(none.stdout).error.code).toBe("NO_WORKERS");

    await startWorker();
    const unknown = await cli(["ping", ...url, "--worker", "no-such-worker"]);
    expect(unknown.code).toBe(69);
    expect(unknown.stderr).toContain('no live worker has the id "no-such-worker"');
  });

  it("exits 69 when a worker has a heartbeat but does not answer", async () => {
    // A heartbeat entry with no worker behind it: a process whose loop is gone but whose entry
    // has not expired yet.
    const ghost = `ghost-${randomUUID().slice(0, 8)}`;
    const store = `memory://ghost-${randomUUID().slice(0, 8)}`;
    const platform = await createConveyor({ ...config, url: store, env: false, logger: false });
    try {
      const now = Date.now();
      await createCacheWorkerRegistry(platform.cache).beat({
        id: ghost,
        host: "nowhere",
        pid: 1,
        queues: ["default"],
        concurrency: 1,
        active: 0,
        startedAt: now,
        lastHeartbeatAt: now,
        expiresAt: now + 60_000,
      });
      const run = await cli(["ping", "--url", store, "--timeout", "300"]);
      expect(run.code).toBe(69);
      expect(run.stdout).toMatch(new RegExp(`^${ghost} +nowhere +1 +no reply`, "m"));
      expect(run.stderr).toContain("no worker answered the ping within 300ms");
    } finally {
      await platform.close();
    }
  });
});

describe("conveyor control shutdown", () => {
  it("drains the worker: the running job finishes, then the worker process ends with 0", async () => {
    const { run: worker, info } = await startWorker();
    const job = await producer.enqueue("demo.slow", { steps: 10, stepMs: 30 });
    await until(async () => (await job.status()) === "active", "the job to start");
    const run = await cli(["control", "shutdown", ...url, "--worker", info.id, "--wait", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ sent: [info.id], stopped: [info.id], running: [] });
    const ended = await worker;
    expect(ended.code).toBe(0);
    expect(ended.stderr).toContain("worker shutdown requested remotely; draining");
    expect(await job.status()).toBe("completed");
    expect((await producer.workers()).map((w) => w.id)).not.toContain(info.id);
  });

  it("without --worker reaches every live worker, and exits 69 when there is none", async () => {
    const a = await startWorker();
    const b = await startWorker();
    const run = await cli(["control", "shutdown", ...url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("shutdown sent to 2 worker(s)");
    expect((await a.run).code).toBe(0);
    expect((await b.run).code).toBe(0);

    const none = await cli(["control", "shutdown", ...url]);
    expect(none.code).toBe(69);
  });

  it("refuses --timeout without --wait", async () => {
    const run = await cli(["control", "shutdown", ...url, "--timeout", "10"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--timeout limits the wait");
  });
});

/** Runs the CLI with a stdin that answers `answer` and claims to be a terminal. */
async function withAnswer(argv: string[], answer: string): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const stdin = Object.assign(Readable.from([`${answer}\n`]), { isTTY: true });
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: cleanEnv(),
    cwd: CONTROL,
    stdin,
  });
  return { code, stdout, stderr };
}

describe("conveyor purge", () => {
  it("deletes jobs of a queue by state with --yes and says how many", async () => {
    for (let i = 0; i < 3; i++) await producer.enqueue("demo.add", { a: i, b: 0 }, { delayMs: 60_000 });
    await producer.enqueue("demo.add", { a: 9, b: 0 });
    const run = await cli(["purge", ...url, "--queue", "default", "--state", "delayed", "--yes", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      removed: 3,
      states: ["delayed"],
      queues: [{ queue: "default", removed: 3 }],
    });
    expect(await producer.counts("default")).toMatchObject({ delayed: 0, waiting: 1 });
  });

  it("purges every queue by default and keeps jobs younger than --older-than", async () => {
    await producer.enqueue("demo.add", { a: 1, b: 0 });
    await producer.enqueue("demo.slow", { steps: 1 });
    const young = await cli(["purge", ...url, "--older-than", "60000", "--yes"]);
    expect(young.stdout).toMatch(/^purged 0 job\(s\): /m);
    const all = await cli(["purge", ...url, "--yes"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^purged 2 job\(s\): default 1, slow 1/m);
  });

  it("asks on a terminal: no keeps the jobs (exit 1), yes deletes them", async () => {
    await producer.enqueue("demo.add", { a: 1, b: 0 });
    const no = await withAnswer(["purge", ...url, "--queue", "default"], "n");
    expect(no.code).toBe(1);
    expect(no.stderr).toContain(
      "Delete 1 waiting/delayed/retrying/completed/failed/cancelled job(s) from queue default? [y/N]",
    );
    expect(await producer.counts("default")).toMatchObject({ waiting: 1 });
    const yes = await withAnswer(["purge", ...url, "--queue", "default"], "y");
    expect(yes.code).toBe(0);
    expect(await producer.counts("default")).toMatchObject({ waiting: 0 });
  });

  it("refuses without --yes off a terminal, and refuses the active state or an unknown one", async () => {
    await producer.enqueue("demo.add", { a: 1, b: 0 });
    const script = await cli(["purge", ...url]);
    expect(script.code).toBe(2);
    expect(script.stderr).toContain("Add --yes to purge from a script");
    const active = await cli(["purge", ...url, "--state", "active", "--yes"]);
    expect(active.code).toBe(2);
    expect(active.stderr).toContain("running jobs are never purged");
    const unknown = await cli(["purge", ...url, "--state", "done", "--yes"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("must be a comma list of job states");
    expect(await producer.counts("default")).toMatchObject({ waiting: 1 });
  });
});

describe("conveyor retry --failed", () => {
  it("moves every failed job of a queue back to waiting", async () => {
    const worker = producer.worker({ queues: ["default"] });
    const jobs = await Promise.all([1, 2, 3].map(() => producer.enqueue("demo.fail", {})));
    const other = await producer.enqueue("demo.fail", {}, { queue: "elsewhere" });
    const w2 = producer.worker({ queues: ["elsewhere"] });
    for (const job of [...jobs, other])
      await until(async () => (await job.status()) === "failed", "failures");
    await worker.close();
    await w2.close();
    const run = await cli(["retry", "--failed", "--queue", "default", ...url, "--json"]);
    expect(run.code).toBe(0);
    const { retried, skipped } = JSON.parse(run.stdout);
    expect(retried.map((job: { id: string }) => job.id).sort()).toEqual(jobs.map((job) => job.id).sort());
    expect(skipped).toBe(0);
    for (const job of jobs) expect(await job.status()).toBe("waiting");
    expect(await other.status()).toBe("failed");

    const all = await cli(["retry", "--failed", ...url]);
    expect(all.stdout).toMatch(/^1 failed job\(s\) moved back to waiting$/m);
    expect(await other.status()).toBe("waiting");
    await producer.purge("elsewhere", {});
  });

  it("refuses an id together with --failed, --queue without --failed, and nothing at all", async () => {
    expect((await cli(["retry", "abc", "--failed", ...url])).code).toBe(2);
    const queue = await cli(["retry", "abc", "--queue", "default", ...url]);
    expect(queue.code).toBe(2);
    expect(queue.stderr).toContain("only apply with --failed");
    const nothing = await cli(["retry", ...url]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("name the job to retry");
  });
});

describe("conveyor pause|resume", () => {
  it("pauses a queue so workers claim nothing from it, and resumes it", async () => {
    const paused = await cli(["pause", "default", ...url, "--json"]);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ queue: "default", paused: true });
    expect((await producer.queues()).find((q) => q.name === "default")?.paused).toBe(true);
    await startWorker();
    const job = await producer.enqueue("demo.add", { a: 2, b: 2 });
    await sleep(200);
    expect(await job.status()).toBe("waiting");

    const resumed = await cli(["resume", "default", ...url]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toBe("queue default is resumed\n");
    expect(await job.result({ timeoutMs: 5_000 })).toBe(4);
  });
});

describe("help", () => {
  it("names the inspect targets and the control commands, and exit code 69", async () => {
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    for (const command of ["purge", "pause", "resume", "control", "ping"])
      expect(top.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    expect(top.stdout).toContain("69 no worker answered");
    const inspect = await cli(["inspect", "--help"]);
    for (const target of ["registered", "queues", "active", "stats", "workers", "scheduled"])
      expect(inspect.stdout).toMatch(new RegExp(`^  ${target}\\b`, "m"));
  });
});
