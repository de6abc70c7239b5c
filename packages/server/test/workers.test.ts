import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createCacheWorkerRegistry, createConveyor } from "@conveyor/core";
import { createDiskCache, createDiskQueue } from "@conveyor/disk";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { waitFor } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../src/index.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), "conveyor-heartbeat-"));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

async function diskPlatform(folder: string, heartbeatMs: number): Promise<Conveyor> {
  const conveyor = await createConveyor({
    queue: createDiskQueue({ path: folder }),
    cache: createDiskCache({ path: folder }),
    rateLimiter: createMemoryRateLimiter(),
    logger: false,
    env: false,
    heartbeat: { intervalMs: heartbeatMs },
  });
  cleanups.push(() => conveyor.close());
  return conveyor;
}

describe("worker heartbeats", () => {
  it("a worker is visible from another platform sharing the backend, and gone once it closes", async () => {
    const folder = tempFolder();
    const a = await diskPlatform(folder, 100);
    const b = await diskPlatform(folder, 100);
    const worker = a.worker({ queues: ["default", "fast"], concurrency: 3 });
    const [seen] = await waitFor(async () => {
      const list = await b.workers();
      return list.length === 1 ? list : undefined;
    });
    expect(seen).toMatchObject({
      id: worker.id,
      host: hostname(),
      pid: process.pid,
      queues: ["default", "fast"],
      concurrency: 3,
      active: 0,
    });
    expect(seen!.expiresAt - seen!.lastHeartbeatAt).toBe(300);
    // Heartbeats keep coming.
    await waitFor(async () => ((await b.workers())[0]?.lastHeartbeatAt ?? 0) > seen!.lastHeartbeatAt);
    await worker.close();
    expect(await b.workers()).toEqual([]);
  });

  it("reports the jobs a worker is running", async () => {
    const cache = createMemoryCache();
    const conveyor = await createConveyor({
      url: "memory://",
      cache,
      logger: false,
      env: false,
      heartbeat: { intervalMs: 20 },
      tasks: [],
    });
    cleanups.push(() => conveyor.close());
    const { defineTask } = await import("@conveyor/core");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hold = defineTask({ name: "hb.hold", run: () => gate });
    conveyor.register(hold);
    const worker = conveyor.worker({ concurrency: 2 });
    await conveyor.enqueue(hold, {});
    await conveyor.enqueue(hold, {});
    await waitFor(async () => (await conveyor.workers())[0]?.active === 2);
    release();
    await waitFor(async () => (await conveyor.workers())[0]?.active === 0);
    await worker.close();
  });

  it("heartbeats can be turned off", async () => {
    const conveyor = await createConveyor({ url: "memory://", logger: false, env: false, heartbeat: false });
    cleanups.push(() => conveyor.close());
    const worker = conveyor.worker({ queues: ["default"] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await conveyor.workers()).toEqual([]);
    await worker.close();
  });

  it("a worker process killed with SIGKILL disappears once its heartbeat expires, from the API too", async () => {
    const folder = tempFolder();
    const heartbeatMs = 200;
    const child: ChildProcess = fork(join(FIXTURES, "worker-process.ts"), [folder, String(heartbeatMs)], {
      // `--import tsx` resolves from the working folder: this package's, where tsx is installed.
      cwd: join(import.meta.dirname, ".."),
      execArgv: ["--import", "tsx"],
      env: { ...process.env, TSX_TSCONFIG_PATH: join(FIXTURES, "tsconfig.json") },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    });
    const ready = await new Promise<{ id: string; pid: number }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the worker process did not start within 20 s")),
        20_000,
      );
      child.once("exit", (code) =>
        reject(new Error(`the worker process exited with ${code} before it was ready`)),
      );
      child.once("message", (message) => {
        clearTimeout(timer);
        resolve(message as { id: string; pid: number });
      });
    });

    const observer = await diskPlatform(folder, heartbeatMs);
    const server = await startServer({ conveyor: observer, port: 0, env: {} });
    cleanups.push(() => server.close());
    const listed = async () =>
      ((await (await fetch(`${server.url}/v1/workers`)).json()) as { workers: { id: string; pid: number }[] })
        .workers;
    await waitFor(async () => (await listed()).some((w) => w.id === ready.id), { timeoutMs: 5_000 });
    expect((await listed()).find((w) => w.id === ready.id)).toMatchObject({ pid: ready.pid, concurrency: 3 });

    child.kill("SIGKILL");
    await exited;
    // Nobody removes it: only its heartbeat's TTL (3 intervals, 600 ms here) takes it off the list.
    await waitFor(async () => !(await listed()).some((w) => w.id === ready.id), {
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    expect(await createCacheWorkerRegistry(observer.cache).list()).toEqual([]);
  });
});
