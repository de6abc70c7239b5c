import { describe, expect, it } from "vitest";
import { cli } from "./support/cli.js";
import { holdStore } from "./support/store.js";

// The test enqueues on a named memory store and the CLI's worker, in this same process, runs
// the jobs; aborting the signal stands in for SIGTERM (the real signal is tested on the bin).
const store = holdStore("worker");
const STORE = store.url;

describe("conveyor worker", () => {
  it("runs jobs until stopped, then drains and exits 0", async () => {
    const stop = new AbortController();
    const running = cli(["worker", "--url", STORE, "--concurrency", "2"], { signal: stop.signal });
    const add = await store.conveyor.enqueue("demo.add", { a: 3, b: 4 });
    const slow = await store.conveyor.enqueue("demo.slow", { steps: 2, stepMs: 5 });
    expect(await add.result({ timeoutMs: 5_000 })).toBe(7);
    expect(await slow.result({ timeoutMs: 5_000 })).toEqual({ steps: 2 });
    const long = await store.conveyor.enqueue("demo.slow", { steps: 5, stepMs: 20 });
    while ((await long.status()) === "waiting") await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    const run = await running;
    expect(run.code).toBe(0);
    // Drained: the job that was running when the stop came finished.
    expect(await long.status()).toBe("completed");
    expect(run.stderr).toMatch(/conveyor worker \S+ started/);
    expect(run.stderr).toContain(`queue backend  ${STORE}`);
    expect(run.stderr).toContain("queues         default, slow");
    expect(run.stderr).toContain("concurrency    2");
    expect(run.stderr).toContain("tasks          demo.add, demo.fail, demo.slow, echo");
    expect(run.stderr).toContain("is in-process: this worker only runs jobs enqueued inside this process");
    expect(run.stderr).toMatch(/conveyor worker \S+ stopped/);
  });

  it("consumes only --queues and prints started/stopped documents with --json", async () => {
    const stop = new AbortController();
    const running = cli(["worker", "--url", STORE, "--queues", "slow", "--json"], { signal: stop.signal });
    const slow = await store.conveyor.enqueue("demo.slow", { steps: 1, stepMs: 1 });
    expect(await slow.result({ timeoutMs: 5_000 })).toEqual({ steps: 1 });
    const add = await store.conveyor.enqueue("demo.add", { a: 1, b: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await add.status()).toBe("waiting");
    stop.abort();
    const run = await running;
    expect(run.code).toBe(0);
    const [started, stopped] = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(started).toMatchObject({ event: "started", backend: STORE, queues: ["slow"], concurrency: 1 });
    expect(started.tasks).toContain("demo.add");
    expect(stopped).toEqual({ event: "stopped", worker: started.worker, pid: process.pid, processed: 1 });
    await store.conveyor.cancel(add.id);
  });

  it("autoscales with --concurrency min-max and says so in the started document", async () => {
    const stop = new AbortController();
    const running = cli(["worker", "--url", STORE, "--concurrency", "1-3", "--json"], {
      signal: stop.signal,
    });
    const add = await store.conveyor.enqueue("demo.add", { a: 2, b: 2 });
    expect(await add.result({ timeoutMs: 5_000 })).toBe(4);
    stop.abort();
    const run = await running;
    expect(run.code).toBe(0);
    const started = JSON.parse(run.stdout.trim().split("\n")[0]!);
    expect(started).toMatchObject({ event: "started", concurrency: 1, autoscale: { min: 1, max: 3 } });
  });

  it("exits 2 for a concurrency range with min above max", async () => {
    const run = await cli(["worker", "--concurrency", "4-2"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("must be a range min-max with 0 <= min <= max");
  });

  it("exits 2 for a concurrency that is not a positive whole number", async () => {
    const run = await cli(["worker", "--concurrency", "0"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--concurrency <n>");
  });
});
