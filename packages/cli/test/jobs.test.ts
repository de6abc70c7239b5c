import { randomUUID } from "node:crypto";
import { type Conveyor, createConveyor, type Worker } from "@conveyor/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerMemoryAdapter } from "../src/index.js";
import config from "./fixtures/basic/conveyor.config.js";
import { ensureBuilt } from "./support/build.js";
import { cli } from "./support/cli.js";

const STORE = `memory://jobs-${randomUUID().slice(0, 8)}`;
let conveyor: Conveyor;
let worker: Worker | undefined;

beforeAll(async () => {
  ensureBuilt([{ dir: "packages/core" }]);
  registerMemoryAdapter();
  conveyor = await createConveyor({ ...config, url: STORE, env: false, logger: false });
}, 180_000);
afterEach(async () => {
  await worker?.close();
  worker = undefined;
});
afterAll(() => conveyor.close());

const url = ["--url", STORE];

describe("conveyor status", () => {
  it("shows a waiting job's state, attempts and times", async () => {
    const job = await conveyor.enqueue("demo.add", { a: 1, b: 2 });
    const run = await cli(["status", job.id, ...url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^state +waiting$/m);
    expect(run.stdout).toMatch(/^attempt +0\/1$/m);
    expect(run.stdout).toMatch(/^created +\d{4}-\d\d-\d\dT/m);
  });

  it("prints the job record with --json", async () => {
    const job = await conveyor.enqueue("demo.add", { a: 1, b: 2 });
    worker = conveyor.worker();
    await job.result({ timeoutMs: 5_000 });
    const run = await cli(["status", job.id, ...url, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      id: job.id,
      task: "demo.add",
      state: "completed",
      attempt: 1,
      maxAttempts: 1,
      result: 3,
      finishedAt: expect.any(Number),
    });
  });

  it("shows progress and the error of a failed job", async () => {
    worker = conveyor.worker();
    const slow = await conveyor.enqueue("demo.slow", { steps: 2, stepMs: 1 });
    await slow.result({ timeoutMs: 5_000 });
    const progress = await cli(["status", slow.id, ...url]);
    expect(progress.stdout).toMatch(/^progress +\[##########\] 2\/2 100% step 2$/m);

    const failed = await conveyor.enqueue("demo.fail", {});
    await expect(failed.result({ timeoutMs: 5_000 })).rejects.toThrow("boom");
    const run = await cli(["status", failed.id, ...url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^state +failed$/m);
    expect(run.stdout).toMatch(/^error +Error: boom: the demo task failed on purpose \(attempt 1\)$/m);
  });

  it("exits 2 for an unknown id and explains that memory:// is per process", async () => {
    const run = await cli(["status", "no-such-job"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no job with id "no-such-job"');
    expect(run.stderr).toContain("a new CLI process never sees jobs of another process");
  });
});

describe("conveyor result", () => {
  it("prints the result of a completed job, bare or as JSON", async () => {
    worker = conveyor.worker();
    const job = await conveyor.enqueue("demo.add", { a: 4, b: 5 });
    await job.result({ timeoutMs: 5_000 });
    expect(await cli(["result", job.id, ...url])).toMatchObject({ code: 0, stdout: "9\n" });
    const json = await cli(["result", job.id, ...url, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      id: job.id,
      queue: "default",
      task: "demo.add",
      state: "completed",
      result: 9,
    });
  });

  it("exits 124 without --wait when the job has not finished", async () => {
    const job = await conveyor.enqueue("demo.add", { a: 1, b: 1 });
    const run = await cli(["result", job.id, ...url]);
    expect(run.code).toBe(124);
    expect(run.stderr).toContain(`job ${job.id} is waiting and has no result yet`);
  });

  it("exits 124 when --wait --timeout passes", async () => {
    const job = await conveyor.enqueue("demo.add", { a: 1, b: 1 });
    const run = await cli(["result", job.id, ...url, "--wait", "--timeout", "50", "--json"]);
    expect(run.code).toBe(124);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { code: "TIMEOUT" },
      job: { id: job.id },
      exitCode: 124,
    });
  });

  it("waits with --wait until a worker has run the job", async () => {
    const job = await conveyor.enqueue("demo.slow", { steps: 3, stepMs: 10 });
    const waiting = cli(["result", job.id, ...url, "--wait"]);
    worker = conveyor.worker({ queues: ["slow"] });
    const run = await waiting;
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ steps: 3 });
  });

  it("exits 1 for a failed job", async () => {
    worker = conveyor.worker();
    const job = await conveyor.enqueue("demo.fail", {});
    await expect(job.result({ timeoutMs: 5_000 })).rejects.toThrow();
    const run = await cli(["result", job.id, ...url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("boom");
  });
});

describe("conveyor retry and cancel", () => {
  it("cancels a waiting job, then retries it", async () => {
    const job = await conveyor.enqueue("demo.slow", { steps: 1, stepMs: 1 });
    const cancel = await cli(["cancel", job.id, ...url]);
    expect(cancel).toMatchObject({ code: 0, stdout: `job ${job.id} was cancelled\n` });
    expect(await job.status()).toBe("cancelled");
    expect((await cli(["result", job.id, ...url])).code).toBe(1);

    const retry = await cli(["retry", job.id, ...url, "--json"]);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ id: job.id, state: "waiting" });
  });

  it("exits 2 when retrying a job that has not failed, or cancelling an unknown one", async () => {
    const job = await conveyor.enqueue("demo.add", { a: 1, b: 1 });
    const retry = await cli(["retry", job.id, ...url]);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain("only failed or cancelled jobs can be retried");
    expect((await cli(["cancel", "missing", ...url])).code).toBe(2);
  });
});
