import { describe, expect, it } from "vitest";
import { cli } from "./support/cli.js";
import { holdStore } from "./support/store.js";

const store = holdStore("inspect");
const STORE = store.url;

describe("conveyor inspect registered", () => {
  it("lists name, queue, plugin and description with --json", async () => {
    const run = await cli(["inspect", "registered", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { name: "demo.add", queue: "default", plugin: "demo", description: "adds two numbers" },
      { name: "demo.fail", queue: "default", plugin: "demo", description: "always fails" },
      { name: "demo.slow", queue: "slow", plugin: "demo", description: null },
      { name: "echo", queue: "default", plugin: null, description: null },
    ]);
  });

  it("prints an aligned table", async () => {
    const run = await cli(["inspect", "registered"]);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n").slice(0, 3)).toEqual([
      "NAME       QUEUE    PLUGIN  DESCRIPTION",
      "demo.add   default  demo    adds two numbers",
      "demo.fail  default  demo    always fails",
    ]);
  });
});

describe("conveyor inspect queues", () => {
  it("lists each queue with counts by state and the paused flag", async () => {
    await store.conveyor.enqueue("demo.add", { a: 1, b: 2 });
    await store.conveyor.enqueue("demo.add", { a: 1, b: 2 }, { queue: "extra", delayMs: 60_000 });
    await store.conveyor.pause("extra");
    const run = await cli(["inspect", "queues", "--url", STORE, "--json"]);
    expect(run.code).toBe(0);
    const queues = JSON.parse(run.stdout) as {
      name: string;
      paused: boolean;
      counts: Record<string, number>;
    }[];
    expect(queues.map((queue) => queue.name)).toEqual(["default", "extra", "slow"]);
    expect(queues[0]).toMatchObject({
      name: "default",
      paused: false,
      counts: { waiting: 1, active: 0, completed: 0 },
    });
    expect(queues[1]).toMatchObject({ name: "extra", paused: true, counts: { delayed: 1 } });
    expect(queues[2]).toMatchObject({ name: "slow", paused: false, counts: { waiting: 0 } });

    const table = await cli(["inspect", "queues", "--url", STORE]);
    expect(table.stdout.split("\n")[0]).toBe(
      "QUEUE    PAUSED  WAITING  DELAYED  ACTIVE  RETRYING  COMPLETED  FAILED  CANCELLED",
    );
    expect(table.stdout).toMatch(/^extra {4}yes {5}0 {8}1 /m);
  });

  it("exits 2 for an unknown inspect target", async () => {
    const run = await cli(["inspect", "everything"]);
    expect(run.code).toBe(2);
  });
});

describe("help and version", () => {
  it("prints help with exit 0 and names every command", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["worker", "enqueue", "run", "status", "result", "retry", "cancel", "inspect"]) {
      expect(run.stdout).toContain(`  ${command}`);
    }
    expect(run.stdout).toContain("Exit codes:");
  });

  it("prints the version", async () => {
    const run = await cli(["--version"]);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it("exits 2 for an unknown command or option", async () => {
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("[conveyor:cli] unknown command 'frobnicate'");
    expect((await cli(["run", "demo.add", "--nope"])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
  });
});
