import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Conveyor, createConveyor, defineTask, registerAdapter, type WorkerInfo } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../../packages/cli/test/support/build.js";

// The real `conveyor` bin in separate processes: two workers, and each inspect/control command
// its own process, meeting only through a shared backend (a disk folder, or a Redis server).
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "packages/cli/dist/bin.js");
const FIXTURE = resolve(import.meta.dirname, "fixtures");
const slow = defineTask({ name: "control.slow", run: (input: { steps: number; stepMs: number }) => input });

interface Backend {
  name: string;
  flags(env: { redis: string; folder: string; prefix: string }): string[];
}

const BACKENDS: Backend[] = [
  {
    name: "disk://",
    flags: ({ folder }) => ["--queue-url", `disk://${folder}`, "--cache-url", `disk://${folder}`],
  },
  {
    // Each process has its own memory tier: workers and commands must go through the disk tier.
    name: "disk:// queue, tiered cache (memory → disk)",
    flags: ({ folder }) => [
      "--queue-url",
      `disk://${folder}`,
      "--cache-url",
      `memory://?max=1000,disk://${folder}`,
    ],
  },
  {
    name: "redis://",
    flags: ({ redis, prefix }) => [
      "--queue-url",
      `${redis}?prefix=${prefix}:`,
      "--cache-url",
      `${redis}?namespace=${prefix}`,
    ],
  },
];

interface Child {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const children: ChildProcess[] = [];

function conveyor(args: string[], timeoutMs = 30_000): Child {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CONVEYOR_")) env[key] = value;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: FIXTURE,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const output = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk));
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, ...output });
    });
  });
  return { child, output, done };
}

const run = (args: string[]) => conveyor(args, 60_000).done;

let redis: RedisServerHandle;
const folders: string[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ensureBuilt([
    { dir: "packages/core" },
    { dir: "adapters/memory" },
    { dir: "adapters/disk" },
    { dir: "adapters/redis" },
    { dir: "packages/cli", outputs: ["index.js", "bin.js"], rebuildStale: true },
  ]);
  // The test's own producer loads the adapters from source; the bin loads their builds.
  registerAdapter("redis", { packageName: "@conveyor/redis", load: () => import("@conveyor/redis") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
  redis = await startRedisServer();
}, 180_000);
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  await redis?.stop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe.each(BACKENDS)("inspect and control across processes on $name", (backend) => {
  it("sees two worker processes, pings them, and shuts them down gracefully one by one", async () => {
    const folder = mkdtempSync(join(tmpdir(), "conveyor-control-"));
    folders.push(folder);
    const flags = backend.flags({ redis: redis.url, folder, prefix: randomPrefix() });
    const cacheUrl = flags[flags.indexOf("--cache-url") + 1]!;
    const queueUrl = flags[flags.indexOf("--queue-url") + 1]!;
    const producer: Conveyor = await createConveyor({
      queue: queueUrl,
      cache: cacheUrl,
      rateLimiter: "memory://",
      tasks: [slow],
      env: false,
      logger: false,
      heartbeat: false,
    });
    closers.push(() => producer.close());

    const a = conveyor(["worker", ...flags, "--concurrency", "2"], 60_000);
    const b = conveyor(["worker", ...flags], 60_000);
    const pids = [a.child.pid, b.child.pid].sort();
    const live = await waitFor(
      async () => {
        const workers = await producer.workers();
        return workers.length === 2 ? workers : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 50, message: "two workers reporting themselves" },
    ).catch(async (error: Error) => {
      const seen = JSON.stringify(await producer.workers());
      throw new Error(`${error.message}\nlisted: ${seen}\na: ${a.output.stderr}\nb: ${b.output.stderr}`);
    });
    const byPid = new Map(live.map((worker) => [worker.pid, worker]));
    const workerA = byPid.get(a.child.pid!)!;
    const workerB = byPid.get(b.child.pid!)!;

    // inspect workers: both processes, with their own pid and concurrency.
    const listed = await run(["inspect", "workers", ...flags, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const workers = JSON.parse(listed.stdout) as WorkerInfo[];
    expect(workers.map((worker) => worker.pid).sort()).toEqual(pids);
    expect(workers.find((worker) => worker.id === workerA.id)).toMatchObject({
      concurrency: 2,
      queues: ["default"],
    });

    // inspect active: a running job with the worker that holds it.
    const job = await producer.enqueue(slow, { steps: 200, stepMs: 50 });
    await waitFor(async () => (await job.get()).progress, { timeoutMs: 10_000, message: "progress" });
    const active = await run(["inspect", "active", ...flags, "--json"]);
    expect(active.code, active.stderr).toBe(0);
    const [row] = JSON.parse(active.stdout);
    const holder = (await job.get()).workerId;
    expect(row).toMatchObject({ id: job.id, task: "control.slow", workerId: holder });
    expect([workerA.id, workerB.id]).toContain(holder);

    // ping: a round trip through each worker's mailbox.
    const ping = await run(["ping", ...flags, "--json"]);
    expect(ping.code, ping.stderr).toBe(0);
    const replies = JSON.parse(ping.stdout) as { id: string; ok: boolean; pid: number }[];
    expect(replies.map((reply) => [reply.pid, reply.ok]).sort()).toEqual(pids.map((pid) => [pid, true]));

    // shutdown of the worker holding the job: it drains (the job completes) and exits 0.
    const holderChild = holder === workerA.id ? a : b;
    const other = holder === workerA.id ? b : a;
    const otherId = holder === workerA.id ? workerB.id : workerA.id;
    const shutdown = await run(["control", "shutdown", ...flags, "--worker", holder!, "--wait", "--json"]);
    expect(shutdown.code, shutdown.stderr).toBe(0);
    expect(JSON.parse(shutdown.stdout)).toEqual({ sent: [holder], stopped: [holder], running: [] });
    const ended = await holderChild.done;
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toContain("worker shutdown requested remotely; draining");
    expect(await job.status()).toBe("completed");
    expect(other.child.exitCode).toBeNull();

    const onlyOther = await run(["ping", ...flags, "--json"]);
    expect(onlyOther.code, onlyOther.stderr).toBe(0);
    expect(JSON.parse(onlyOther.stdout).map((reply: { id: string }) => reply.id)).toEqual([otherId]);

    // shutdown without --worker reaches the rest; then nobody answers: exit 69.
    const rest = await run(["control", "shutdown", ...flags, "--wait"]);
    expect(rest.code, rest.stderr).toBe(0);
    expect((await other.done).code).toBe(0);
    const none = await run(["ping", ...flags]);
    expect(none.code, none.stderr).toBe(69);
    expect(none.stderr).toContain("no worker has a live heartbeat");
  }, 180_000);
});
