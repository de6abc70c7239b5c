import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI_BUILD, ensureBuilt, ROOT } from "./support/build.js";
import { FIXTURE } from "./support/cli.js";
import { run, start } from "./support/spawn.js";

// These run the built bin as a real child process. CI runs `pnpm build` first; locally,
// ensureBuilt builds a missing dist (and the CLI's own when it is older than its sources).
const BIN = join(ROOT, "packages/cli/dist/bin.js");
beforeAll(() => ensureBuilt(CLI_BUILD), 180_000);

describe("the conveyor bin", () => {
  it("runs a task end to end on the embedded memory:// default", async () => {
    const result = await run(BIN, ["run", "demo.add", "--input", '{"a":19,"b":23}', "--json"], {
      cwd: FIXTURE,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ task: "demo.add", state: "completed", result: 42 });
  });

  it("shows progress lines on a pipe and prints the bare result", async () => {
    const result = await run(BIN, ["run", "demo.slow", "--input", '{"steps":3,"stepMs":5}'], {
      cwd: FIXTURE,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("progress [####################] 3/3 100% step 3");
    expect(JSON.parse(result.stdout)).toEqual({ steps: 3 });
  });

  it("exits 1 for a failed job, 2 for bad input, 124 for a timeout", async () => {
    const failed = await run(BIN, ["run", "demo.fail"], { cwd: FIXTURE });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("boom");
    expect(failed.stderr).not.toMatch(/\n\s+at /);

    const badJson = await run(BIN, ["run", "demo.add", "--input", "{oops"], { cwd: FIXTURE });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("--input is not valid JSON");

    const slow = await run(
      BIN,
      ["run", "demo.slow", "--input", '{"steps":100,"stepMs":50}', "--timeout", "200"],
      {
        cwd: FIXTURE,
      },
    );
    expect(slow.code).toBe(124);
  });

  it("exits at once after enqueue on memory://, with the in-process warning", async () => {
    const result = await run(BIN, ["enqueue", "demo.add", "--input", '{"a":1,"b":2}'], {
      cwd: FIXTURE,
      timeoutMs: 10_000,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.stderr).toContain("nothing will run it after the CLI exits");
  });

  it("takes backends from the env and masks their passwords", async () => {
    // memory:// takes no credentials, so its adapter refuses this URL, naming it masked.
    const result = await run(BIN, ["inspect", "queues"], {
      cwd: FIXTURE,
      env: { CONVEYOR_QUEUE_URL: "memory://admin:topsecret@store" },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("memory://admin:***@store");
    expect(result.stderr + result.stdout).not.toContain("topsecret");
  });

  it("stops a worker gracefully on SIGTERM and exits 0", async () => {
    const worker = start(BIN, ["worker", "--concurrency", "2"], { cwd: FIXTURE });
    await worker.waitForStderr(/conveyor worker \S+ started/);
    expect(worker.output.stderr).toContain("concurrency    2");
    worker.child.kill("SIGTERM");
    const result = await worker.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("signal received; draining running jobs");
    expect(result.stderr).toMatch(/conveyor worker \S+ stopped/);
  });

  it("stops a worker on SIGINT (Ctrl-C) too", async () => {
    const worker = start(BIN, ["worker", "--json"], { cwd: FIXTURE });
    await worker.waitForStderr("is in-process");
    worker.child.kill("SIGINT");
    const result = await worker.done;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.event)).toEqual(["started", "stopped"]);
  });
});
