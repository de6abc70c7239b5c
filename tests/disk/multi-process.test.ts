import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, type JobEvent } from "@conveyor/core";
import { createDiskCache, createDiskQueue } from "@conveyor/disk";
import { createMemoryRateLimiter } from "@conveyor/memory";
import { waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { forkFixture, type IpcChild, killIpcChildren } from "../support/ipc.js";
import { diskTasks } from "./fixtures/tasks.js";

type Child = IpcChild;

const folders: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await killIpcChildren();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), "conveyor-disk-mp-"));
  folders.push(folder);
  return folder;
}

function start(role: string, folder: string, ...args: string[]): Child {
  return forkFixture("disk", "node.ts", [role, folder, ...args], { name: role });
}

async function worker(folder: string, concurrency = 1, leaseMs = 30_000): Promise<Child> {
  const child = start("worker", folder, String(concurrency), String(leaseMs));
  await child.message("ready");
  return child;
}

async function stop(child: Child): Promise<void> {
  child.process.send("close");
  await child.message("done");
  await child.exited;
}

/** The platform of the test process itself, on the same folder. */
async function platform(folder: string): Promise<Conveyor> {
  const conveyor = await createConveyor({
    queue: createDiskQueue({ path: folder }),
    cache: createDiskCache({ path: folder }),
    rateLimiter: createMemoryRateLimiter(),
    tasks: diskTasks(folder),
    logger: false,
    env: false,
  });
  closers.push(() => conveyor.close());
  return conveyor;
}

/** The lines of runs.log: one per attempt that started or was aborted. */
function runs(folder: string): string[][] {
  const file = join(folder, "runs.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(" "));
}

describe("disk queue across processes", { timeout: 90_000 }, () => {
  it("one producer and two workers: every job completes exactly once, and both workers take part", async () => {
    const folder = tempFolder();
    const [a, b] = await Promise.all([worker(folder, 4), worker(folder, 4)]);
    const producer = start("produce", folder, "200");
    await producer.message("done");
    const conveyor = await platform(folder);
    await waitFor(async () => (await conveyor.counts("mp")).completed === 200, {
      timeoutMs: 60_000,
      message: "200 completed jobs",
    });
    expect(await conveyor.counts("mp")).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: 200 });

    const records = runs(folder).filter(([task]) => task === "record");
    const byJob = new Map<string, number>();
    for (const [, n] of records) byJob.set(n!, (byJob.get(n!) ?? 0) + 1);
    expect(byJob.size).toBe(200);
    expect([...byJob.values()].every((count) => count === 1)).toBe(true);
    const pids = new Set(records.map(([, , pid]) => Number(pid)));
    expect(pids).toEqual(new Set([a.pid, b.pid]));
    await Promise.all([stop(a), stop(b)]);
  });

  it("a worker killed with SIGKILL mid-job: the job is recovered after its lease and completed by the other worker", async () => {
    const folder = tempFolder();
    const conveyor = await platform(folder);
    const events: JobEvent[] = [];
    const unsubscribe = await conveyor.queue.subscribe((event) => events.push(event), { queue: "mp" });
    closers.push(unsubscribe);
    const doomed = await worker(folder, 1, 1_000);
    const job = await conveyor.enqueue("mp.hang", { n: 1 });
    await waitFor(() => runs(folder).some(([task, , pid]) => task === "hang" && Number(pid) === doomed.pid), {
      timeoutMs: 20_000,
      message: "the first worker to start the job",
    });
    const survivor = await worker(folder, 1, 1_000);
    doomed.process.kill("SIGKILL");
    await doomed.exited;

    expect(await job.result({ timeoutMs: 30_000 })).toEqual({ n: 1, pid: survivor.pid, attempt: 2 });
    expect(await job.get()).toMatchObject({ state: "completed", attempt: 2 });
    await waitFor(() => events.some((e) => e.jobId === job.id && e.type === "completed"), {
      timeoutMs: 5_000,
    });
    expect(events.filter((e) => e.jobId === job.id).map((e) => e.type)).toEqual([
      "added",
      "active",
      "stalled",
      "waiting",
      "active",
      "completed",
    ]);
    expect(runs(folder).filter(([task]) => task === "hang")).toEqual([
      ["hang", "1", String(doomed.pid), "1"],
      ["hang", "1", String(survivor.pid), "2"],
    ]);
    await stop(survivor);
  });

  it("a delayed job added by one process runs in another once its time has come", async () => {
    const folder = tempFolder();
    const runner = await worker(folder);
    const enqueuer = start(
      "enqueue",
      folder,
      JSON.stringify({ task: "mp.record", input: { n: 7 }, delayMs: 600 }),
    );
    const { id } = await enqueuer.message<{ id: string }>("done");
    const conveyor = await platform(folder);
    const handle = conveyor.job(id);
    const early = await handle.get();
    if (early.state === "delayed") expect(early.runAt - early.createdAt).toBe(600);
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual({ n: 7, pid: runner.pid });
    const done = await handle.get();
    expect(done.startedAt).toBeGreaterThanOrEqual(done.createdAt + 600);
    await stop(runner);
  });

  it("events of a job run by a worker process reach a subscriber in this process, in order", async () => {
    const folder = tempFolder();
    const runner = await worker(folder);
    const conveyor = await platform(folder);
    const events: JobEvent[] = [];
    const unsubscribe = await conveyor.queue.subscribe((event) => events.push(event), { queue: "mp" });
    closers.push(unsubscribe);
    const job = await conveyor.enqueue("mp.steps", { total: 3 });
    await waitFor(() => events.some((e) => e.type === "completed"), {
      timeoutMs: 20_000,
      message: "completed",
    });
    expect(events.map((e) => e.type)).toEqual([
      "added",
      "active",
      "progress",
      "progress",
      "progress",
      "completed",
    ]);
    expect(events.every((e) => e.jobId === job.id)).toBe(true);
    expect(events.filter((e) => e.type === "progress").map((e) => e.progress)).toEqual([
      { current: 1, total: 3, message: "step 1" },
      { current: 2, total: 3, message: "step 2" },
      { current: 3, total: 3, message: "step 3" },
    ]);
    expect(events.at(-1)?.result).toEqual({ steps: 3, pid: runner.pid });
    await stop(runner);
  });

  it("cancelling an active job from this process aborts its handler in the worker process", async () => {
    const folder = tempFolder();
    const runner = await worker(folder);
    const conveyor = await platform(folder);
    const job = await conveyor.enqueue("mp.hang", { n: 2 });
    await waitFor(() => runs(folder).some(([task]) => task === "hang"), { timeoutMs: 20_000 });
    expect(await job.cancel()).toBe("requested");
    await waitFor(async () => (await job.status()) === "cancelled", {
      timeoutMs: 10_000,
      message: "cancelled",
    });
    expect(runs(folder)).toContainEqual(["aborted", "2", String(runner.pid), "JobCancelledError"]);
    await stop(runner);
  });
});
