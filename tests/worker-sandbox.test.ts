import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";
import { ConfigError, type Conveyor, createConveyor, defineTask, type Task } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processTasks, threadTasks } from "../packages/core/test/fixtures/sandbox-tasks.js";

// Sandboxed tasks on real worker threads and real child processes, through the whole runtime on
// the memory adapter. The fixture module is loaded by path in the sandbox (through jiti).

for (const [type, tasks] of [
  ["thread", threadTasks],
  ["process", processTasks],
] as const) {
  describe(`sandbox: "${type}"`, () => {
    let conveyor: Conveyor;
    const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    const task = (name: string): Task => tasks.find((t) => t.name === `sandbox.${type}.${name}`)!;

    beforeAll(async () => {
      conveyor = await createConveyor({
        queue: createMemoryQueue(),
        cache: createMemoryCache(),
        rateLimiter: createMemoryRateLimiter(),
        tasks,
        env: false,
        heartbeat: false,
        logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
      });
    });
    afterAll(() => conveyor.close());

    it("runs the task outside this thread, forwards progress and logs, and reuses the sandbox", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const first = await conveyor.enqueue(task("echo"), { text: "hello" });
      const progress: unknown[] = [];
      const events = (async () => {
        for await (const event of first.events()) {
          if (event.type === "progress") progress.push(event.progress);
          if (event.type === "completed") return;
        }
      })();
      const a = (await first.result({ timeoutMs: 20_000 })) as Record<string, number | string>;
      await events;
      expect(a.text).toBe("hello");
      if (type === "thread") {
        expect(a.pid).toBe(process.pid);
        expect(a.threadId).not.toBe(threadId);
      } else {
        expect(a.pid).not.toBe(process.pid);
      }
      expect(progress).toContainEqual({ current: 2, total: 2, message: "done" });
      expect(lines).toContainEqual({
        level: "info",
        message: "echoing",
        fields: { jobId: first.id, task: task("echo").name, text: "hello" },
      });

      const second = await conveyor.enqueue(task("echo"), { text: "again" });
      const b = (await second.result({ timeoutMs: 20_000 })) as Record<string, number | string>;
      // The same sandbox ran both jobs (one load of its resource), not one spawn per job.
      expect([b.pid, b.threadId]).toEqual([a.pid, a.threadId]);
      expect(b.loads).toBe(1);
      await worker.close();
    });

    it("kills a stuck handler at its hard limit; the job fails with TimeoutError after its retry", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const stuck = await conveyor.enqueue(task("spin"), {});
      const record = await waitForEnd(conveyor, stuck.id);
      expect(record.state).toBe("failed");
      expect(record.attempt).toBe(2);
      expect(record.error).toMatchObject({ name: "TimeoutError", attempt: 2 });
      expect(record.error?.message).toContain("timed out after 300 ms");
      // The worker is not stuck: the next job runs.
      const next = await conveyor.enqueue(task("echo"), { text: "after" });
      expect(await next.result({ timeoutMs: 20_000 })).toMatchObject({ text: "after" });
      await worker.close();
    });

    it("aborts ctx.signal inside the sandbox at the soft limit", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const job = await conveyor.enqueue(task("soft"), {});
      expect(await job.result({ timeoutMs: 20_000 })).toBe("SoftTimeoutError");
      await worker.close();
    });

    it("a cancel kills the sandbox and the job ends cancelled", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const job = await conveyor.enqueue(task("wait"), {});
      while ((await job.status()) !== "active") await sleep(5);
      expect(await conveyor.cancel(job.id)).toBe("requested");
      expect((await waitForEnd(conveyor, job.id)).state).toBe("cancelled");
      const next = await conveyor.enqueue(task("echo"), { text: "still here" });
      expect(await next.result({ timeoutMs: 20_000 })).toMatchObject({ text: "still here" });
      await worker.close();
    });

    it("a crash of the sandbox fails only its job, with SandboxCrashedError, retried per policy", async () => {
      const worker = conveyor.worker({ concurrency: 2 });
      const crash = await conveyor.enqueue(task("exit"), {});
      const fine = await conveyor.enqueue(task("echo"), { text: "neighbour" });
      const record = await waitForEnd(conveyor, crash.id);
      expect(record.state).toBe("failed");
      expect(record.attempt).toBe(2);
      expect(record.error?.name).toBe("SandboxCrashedError");
      expect(record.error?.message).toContain("exited with code 3");
      expect(await fine.result({ timeoutMs: 20_000 })).toMatchObject({ text: "neighbour" });
      await worker.close();
    });

    it("keeps UnrecoverableError unretried, and reaches the worker's cache and rate limiter", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const bad = await conveyor.enqueue(task("unrecoverable"), {});
      const record = await waitForEnd(conveyor, bad.id);
      expect(record).toMatchObject({ state: "failed", attempt: 1 });
      expect(record.error?.name).toBe("UnrecoverableError");

      const key = `sandbox-${type}`;
      const shared = await conveyor.enqueue(task("shared"), { key });
      expect(await shared.result({ timeoutMs: 20_000 })).toEqual({
        cached: { from: "sandbox" },
        remaining: 4,
      });
      expect(await conveyor.cache.get(key)).toEqual({ from: "sandbox" });
      await worker.close();
    });

    it("refuses ctx.conveyor inside the sandbox with a ConfigError that says where to enqueue instead", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const job = await conveyor.enqueue(task("platform"), {});
      const record = await waitForEnd(conveyor, job.id);
      expect(record).toMatchObject({ state: "failed" });
      expect(record.error).toMatchObject({ name: "ConfigError" });
      expect(record.error?.message).toMatch(
        /ctx\.conveyor inside its sandbox.*Enqueue child jobs from a task without a sandbox/,
      );
      await worker.close();
    });

    it("fails a job whose module cannot be imported with a ConfigError, never retried", async () => {
      const worker = conveyor.worker({ concurrency: 1 });
      const job = await conveyor.enqueue(task("missing"), {});
      const record = await waitForEnd(conveyor, job.id);
      expect(record).toMatchObject({ state: "failed", attempt: 1 });
      expect(record.error?.name).toBe("ConfigError");
      expect(record.error?.message).toContain("the sandbox could not import");
      expect(record.error?.message).toContain("no-such-module.ts");
      await worker.close();
    });
  });
}

describe("sandbox options", () => {
  it.each([
    [{ type: "fork", module: import.meta.url }, 'sandbox.type must be "thread" or "process", got "fork"'],
    [{ type: "thread", module: "./tasks.ts" }, "sandbox.module must be the absolute path or file: URL"],
    [{ type: "process" }, "Pass import.meta.url (ESM) or __filename (CJS)"],
  ])("%j throws a ConfigError", (sandbox, message) => {
    let thrown: unknown;
    try {
      defineTask({ name: "bad.sandbox", sandbox: sandbox as never, run: () => 1 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(message);
  });
});

async function waitForEnd(conveyor: Conveyor, id: string) {
  for (let i = 0; i < 2_000; i++) {
    const record = await conveyor.job(id).get();
    if (record && ["completed", "failed", "cancelled"].includes(record.state)) return record;
    await sleep(10);
  }
  throw new Error(`job ${id} never ended`);
}
