import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cli } from "./support/cli.js";
import { holdStore } from "./support/store.js";

const store = holdStore("enqueue");
const STORE = store.url;

describe("conveyor enqueue", () => {
  it("prints the job id and warns that memory:// runs nothing after the CLI exits", async () => {
    const run = await cli(["enqueue", "demo.add", "--input", '{"a":1,"b":2}', "--url", STORE]);
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.stderr).toContain("is in-process");
    expect(run.stderr).toContain("nothing will run it after the CLI exits");
    expect(run.stderr).toContain("conveyor run demo.add");
    const record = await store.conveyor.job(id).get();
    expect(record).toMatchObject({ task: "demo.add", state: "waiting", input: { a: 1, b: 2 } });
  });

  it("prints { id, queue, task, created } with --json", async () => {
    const run = await cli(["enqueue", "demo.add", "--input", '{"a":1,"b":2}', "--url", STORE, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      id: expect.any(String),
      queue: "default",
      task: "demo.add",
      created: true,
    });
  });

  it("passes --job-id, --queue, --priority and --delay to the job", async () => {
    const id = `job-${randomUUID()}`;
    const run = await cli([
      "enqueue",
      "demo.add",
      "--input",
      '{"a":1,"b":2}',
      "--url",
      STORE,
      "--job-id",
      id,
      "--queue",
      "other",
      "--priority",
      "5",
      "--delay",
      "60000",
      "--json",
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id, queue: "other", created: true });
    const record = await store.conveyor.job(id).get();
    expect(record).toMatchObject({ queue: "other", priority: 5, state: "delayed" });
    expect(record.runAt - record.createdAt).toBeGreaterThanOrEqual(59_000);
  });

  it("returns the existing job for a --job-id that exists (dedupe)", async () => {
    const id = `dup-${randomUUID()}`;
    const first = await cli([
      "enqueue",
      "demo.add",
      "--input",
      '{"a":1,"b":2}',
      "--url",
      STORE,
      "--job-id",
      id,
      "--json",
    ]);
    const second = await cli([
      "enqueue",
      "demo.add",
      "--input",
      '{"a":1,"b":2}',
      "--url",
      STORE,
      "--job-id",
      id,
      "--json",
    ]);
    expect(JSON.parse(first.stdout).created).toBe(true);
    expect(JSON.parse(second.stdout)).toMatchObject({ id, created: false });
    expect(second.stderr).toContain("already existed");
  });

  it("with --wait on memory:// runs the job in the CLI process and prints the result", async () => {
    const run = await cli(["enqueue", "demo.add", "--input", '{"a":2,"b":5}', "--wait"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("7\n");
    expect(run.stderr).toContain("running the job in this CLI process");
  });

  it("with --wait --json prints the result document", async () => {
    const run = await cli(["enqueue", "demo.slow", "--input", '{"steps":2,"stepMs":1}', "--wait", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      task: "demo.slow",
      queue: "slow",
      state: "completed",
      result: { steps: 2 },
    });
  });

  it("exits 1 when the waited-for job fails", async () => {
    const run = await cli(["enqueue", "demo.fail", "--wait"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("boom");
  });

  it("exits 2 for --timeout without --wait", async () => {
    const run = await cli(["enqueue", "demo.add", "--input", '{"a":1,"b":2}', "--timeout", "10"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--timeout limits the wait");
  });

  it("exits 2 for a flag value that is not a number, naming the flag", async () => {
    const run = await cli(["enqueue", "demo.add", "--priority", "high"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--priority <n>");
    expect(run.stderr).toContain("must be a priority");
  });

  it("exits 2 for an unknown task, bad JSON and invalid input, like run", async () => {
    expect((await cli(["enqueue", "nope"])).code).toBe(2);
    expect((await cli(["enqueue", "demo.add", "--input", "not json"])).stderr).toContain(
      "--input is not valid JSON",
    );
    const invalid = await cli(["enqueue", "demo.add", "--input", '{"a":1,"b":"2"}']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("  - b: ");
  });
});
