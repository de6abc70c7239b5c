import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Conveyor, createConveyor, defineTask, registerAdapter } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../packages/cli/test/support/build.js";

// The real `conveyor` bin supervising its worker process: with --max-jobs-per-process the worker
// process drains after N jobs and a fresh one replaces it, until SIGTERM reaches the supervisor.
// The test's producer and the bin's processes share a disk:// folder.
const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "packages/cli/dist/bin.js");
const FIXTURE = resolve(import.meta.dirname, "cli-control/fixtures");
const slow = defineTask({ name: "control.slow", run: (input: { steps: number; stepMs: number }) => input });

let folder: string;
let producer: Conveyor;
let supervisor: ChildProcess | undefined;

beforeAll(async () => {
  ensureBuilt([
    { dir: "packages/core" },
    { dir: "adapters/memory" },
    { dir: "adapters/disk" },
    { dir: "packages/cli", outputs: ["index.js", "bin.js"], rebuildStale: true },
  ]);
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
  folder = mkdtempSync(join(tmpdir(), "conveyor-recycle-"));
  producer = await createConveyor({
    url: `disk://${folder}`,
    rateLimiter: "memory://",
    tasks: [slow],
    env: false,
    logger: false,
    heartbeat: false,
  });
}, 180_000);
afterAll(async () => {
  if (supervisor && supervisor.exitCode === null) supervisor.kill("SIGKILL");
  await producer?.close();
  rmSync(folder, { recursive: true, force: true });
});

describe("conveyor worker --max-jobs-per-process", () => {
  it("replaces the worker process after N jobs; every job completes exactly once; SIGTERM drains and stops", async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env))
      if (!key.startsWith("CONVEYOR_")) env[key] = value;
    const child = spawn(
      process.execPath,
      [
        BIN,
        "worker",
        "--url",
        `disk://${folder}`,
        "--concurrency",
        "2",
        "--max-jobs-per-process",
        "3",
        "--json",
      ],
      { cwd: FIXTURE, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    supervisor = child;
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));

    const jobs = await producer.enqueueMany(
      slow,
      Array.from({ length: 10 }, () => ({ input: { steps: 1, stepMs: 20 } })),
    );
    for (const job of jobs) await job.result({ timeoutMs: 60_000 });
    const records = await Promise.all(jobs.map((job) => job.get()));
    // Exactly once: each job completed on its first and only claim.
    expect(records.map((record) => [record.state, record.attempt])).toEqual(jobs.map(() => ["completed", 1]));

    // Wait for the process that follows the last recycle to report itself, then stop the supervisor.
    const events = () =>
      stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { event: string; pid?: number; processed?: number });
    for (let i = 0; i < 1_000; i++) {
      const list = events();
      if (
        list.filter((e) => e.event === "started").length > list.filter((e) => e.event === "recycled").length
      )
        break;
      await sleep(10);
    }
    child.kill("SIGTERM");
    expect(await exited).toBe(0);

    const list = events();
    const started = list.filter((e) => e.event === "started");
    const recycled = list.filter((e) => e.event === "recycled");
    // 10 jobs at 3 (or a claim or two more) per process: at least 3 processes, each one fresh.
    expect(recycled.length).toBeGreaterThanOrEqual(2);
    expect(started).toHaveLength(recycled.length + 1);
    expect(new Set(started.map((e) => e.pid)).size).toBe(started.length);
    expect(started.map((e) => e.pid)).not.toContain(child.pid);
    for (const e of recycled) expect(e.processed).toBeGreaterThanOrEqual(3);
    expect(list.filter((e) => e.event === "restarting")).toHaveLength(recycled.length);
    expect(list.at(-1)?.event).toBe("stopped");
    expect(stderr).not.toContain("Error");
  }, 120_000);
});
