import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "./support/build.js";
import { cli } from "./support/cli.js";

// The fixture config is loaded through jiti, which imports @conveyor/core from its dist.
beforeAll(() => ensureBuilt([{ dir: "packages/core" }]), 180_000);

describe("conveyor run", () => {
  it("runs the job in this process and prints the bare result", async () => {
    const run = await cli(["run", "demo.add", "--input", '{"a":1,"b":2}']);
    expect(run).toMatchObject({ code: 0, stdout: "3\n" });
    expect(run.stderr).toContain("running job");
  });

  it("prints { id, queue, task, created, state, result } with --json", async () => {
    const run = await cli(["run", "demo.add", "--input", '{"a":20,"b":22}', "--json"]);
    expect(run.code).toBe(0);
    const document = JSON.parse(run.stdout);
    expect(document).toEqual({
      id: expect.any(String),
      queue: "default",
      task: "demo.add",
      created: true,
      state: "completed",
      result: 42,
    });
  });

  it("accepts --json before the command, and --quiet silences the notes", async () => {
    const run = await cli(["--json", "--quiet", "run", "demo.add", "--input", '{"a":1,"b":1}']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).result).toBe(2);
    expect(run.stderr).toBe("");
  });

  it("exits 1 with the job's error, no stack, when the job fails", async () => {
    const run = await cli(["run", "demo.fail"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("[conveyor] job");
    expect(run.stderr).toContain("boom: the demo task failed on purpose");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe("");
  });

  it("prints an error document on stdout with --json when the job fails", async () => {
    const run = await cli(["run", "demo.fail", "--json"]);
    expect(run.code).toBe(1);
    const document = JSON.parse(run.stdout);
    expect(document.error).toMatchObject({
      code: "JOB_FAILED",
      jobError: { message: expect.stringContaining("boom") },
    });
    expect(document.job).toMatchObject({ id: expect.any(String), task: "demo.fail", queue: "default" });
    expect(document.exitCode).toBe(1);
  });

  it("exits 2 and lists the issues when the input does not match the schema", async () => {
    const run = await cli(["run", "demo.add", "--input", '{"a":"one"}']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('input of task "demo.add" is invalid');
    expect(run.stderr).toMatch(/\n {2}- a: /);
    expect(run.stderr).toMatch(/\n {2}- b: /);
  });

  it("puts the validation issues in the --json error document", async () => {
    const run = await cli(["run", "demo.add", "--input", '{"a":1}', "--json"]);
    expect(run.code).toBe(2);
    const { error } = JSON.parse(run.stdout);
    expect(error.code).toBe("VALIDATION");
    expect(error.issues).toEqual([{ path: "b", message: expect.any(String) }]);
  });

  it("exits 2 for an unknown task and names the registered ones", async () => {
    const run = await cli(["run", "nope.task"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown task "nope.task"');
    expect(run.stderr).toContain("demo.add");
  });

  it("exits 2 for --input that is not JSON, naming the flag", async () => {
    const run = await cli(["run", "demo.add", "--input", "{a:1}"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("[conveyor:cli] --input is not valid JSON");
  });

  it("reads --input @file relative to the working folder", async () => {
    const run = await cli(["run", "echo", "--input", "@input.json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ hello: "world" });
  });

  it("exits 124 when --timeout passes before the job finishes", async () => {
    const run = await cli(["run", "demo.slow", "--input", '{"steps":50,"stepMs":20}', "--timeout", "100"]);
    expect(run.code).toBe(124);
    expect(run.stderr).toContain("timed out after 100 ms");
    expect(run.stderr).toContain("stops with this CLI process");
  });

  it("shows plain progress lines when stderr is not a terminal", async () => {
    const run = await cli(["run", "demo.slow", "--input", '{"steps":3,"stepMs":5}']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("progress [####################] 3/3 100% step 3");
    expect(run.stderr).not.toContain("\r");
  });

  it("redraws one progress line with \\r on a terminal", async () => {
    const run = await cli(["run", "demo.slow", "--input", '{"steps":4,"stepMs":5}'], { tty: true });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("\r\x1b[K[####################] 4/4 100% step 4");
    expect(JSON.parse(run.stdout)).toEqual({ steps: 4 });
  });
});
