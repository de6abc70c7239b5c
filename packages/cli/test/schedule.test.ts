import { SCHEDULE_META } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { cli } from "./support/cli.js";
import { holdStore } from "./support/store.js";

const store = holdStore("schedule");
const STORE = store.url;

describe("conveyor schedule", () => {
  it("add upserts (the same definition again is unchanged), list shows it, remove deletes it", async () => {
    const args = [
      "schedule",
      "add",
      "nine",
      "--task",
      "demo.add",
      "--cron",
      "0 9 * * *",
      "--tz",
      "America/New_York",
    ];
    const added = await cli([...args, "--input", '{"a":1,"b":2}', "--url", STORE, "--json"]);
    expect(added.code).toBe(0);
    const result = JSON.parse(added.stdout);
    expect(result).toMatchObject({
      status: "created",
      schedule: {
        name: "nine",
        task: "demo.add",
        cron: "0 9 * * *",
        timezone: "America/New_York",
        input: { a: 1, b: 2 },
      },
    });
    const again = await cli([...args, "--input", '{"b":2,"a":1}', "--url", STORE, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      status: "unchanged",
      schedule: { nextRunAt: result.schedule.nextRunAt },
    });

    const every = await cli([
      "schedule",
      "add",
      "often",
      "--task",
      "echo",
      "--every",
      "5m",
      "--missed",
      "catch-up",
      "--url",
      STORE,
    ]);
    expect(every.code).toBe(0);
    expect(every.stdout).toMatch(/^schedule often created; next run \d{4}-\d\d-\d\dT/);

    const table = await cli(["schedule", "list", "--url", STORE]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TASK\s+WHEN\s+NEXT RUN\s+LAST RUN\s+MISSED\s+LAST ERROR$/);
    expect(lines[1]).toMatch(/^nine\s+demo\.add\s+cron 0 9 \* \* \* \(America\/New_York\)\s+\S+\s+-\s+skip$/);
    expect(lines[2]).toMatch(/^often\s+echo\s+every 5m\s+\S+\s+-\s+catch-up$/);

    expect((await cli(["schedule", "remove", "often", "--url", STORE])).code).toBe(0);
    const gone = await cli(["schedule", "remove", "often", "--url", STORE]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/no schedule is named "often"/);
    const names = JSON.parse((await cli(["schedule", "list", "--url", STORE, "--json"])).stdout);
    expect(names.map((s: { name: string }) => s.name)).toEqual(["nine"]);
  });

  it("refuses bad schedules with exit code 2 and says what is wrong", async () => {
    const badInput = await cli([
      "schedule",
      "add",
      "x",
      "--task",
      "demo.add",
      "--every",
      "1s",
      "--input",
      '{"a":"one"}',
      "--url",
      STORE,
    ]);
    expect(badInput.code).toBe(2);
    expect(badInput.stderr).toMatch(/input of schedule "x" is invalid/);
    const unknown = await cli([
      "schedule",
      "add",
      "x",
      "--task",
      "nobody.knows",
      "--every",
      "1s",
      "--url",
      STORE,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown task "nobody\.knows"/);
    const both = await cli([
      "schedule",
      "add",
      "x",
      "--task",
      "echo",
      "--every",
      "1s",
      "--cron",
      "* * * * *",
      "--url",
      STORE,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --cron <pattern> and --every <duration>/);
    const badCron = await cli([
      "schedule",
      "add",
      "x",
      "--task",
      "echo",
      "--cron",
      "99 * * * *",
      "--url",
      STORE,
    ]);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/the schedule "x" is invalid: cron:/);
    const badEvery = await cli(["schedule", "add", "x", "--task", "echo", "--every", "soon", "--url", STORE]);
    expect(badEvery.code).toBe(2);
    const badZone = await cli([
      "schedule",
      "add",
      "x",
      "--task",
      "echo",
      "--cron",
      "* * * * *",
      "--tz",
      "Mars/Base",
      "--url",
      STORE,
    ]);
    expect(badZone.code).toBe(2);
    expect(badZone.stderr).toMatch(/not an IANA time zone/);
  });
});

describe("conveyor scheduler and inspect scheduled", () => {
  it("the scheduler enqueues ticks until interrupted; inspect scheduled shows the leader, schedules and delayed jobs", async () => {
    const added = await cli([
      "schedule",
      "add",
      "tick",
      "--task",
      "echo",
      "--every",
      "200ms",
      "--input",
      '"hi"',
      "--url",
      STORE,
    ]);
    expect(added.code).toBe(0);
    await store.conveyor.enqueue("echo", { later: true }, { delayMs: 3_600_000, jobId: "later-job" });
    const abort = new AbortController();
    const running = cli(["scheduler", "--url", STORE, "--poll-ms", "20", "--lease-ms", "2000"], {
      signal: abort.signal,
    });
    const ticks = async () =>
      (await store.conveyor.listJobs({ limit: 1_000 })).filter(
        (job) => job.meta?.[SCHEDULE_META.schedule] === "tick",
      );
    const deadline = Date.now() + 10_000;
    while ((await ticks()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await ticks()).length).toBeGreaterThanOrEqual(2);
    expect((await ticks())[0]).toMatchObject({ task: "echo", input: "hi" });

    const inspect = await cli(["inspect", "scheduled", "--url", STORE, "--json"]);
    expect(inspect.code).toBe(0);
    const document = JSON.parse(inspect.stdout);
    expect(document.leader).toMatchObject({ token: expect.any(Number), owner: expect.any(String) });
    expect(document.schedules.map((s: { name: string }) => s.name)).toContain("tick");
    expect(document.jobs).toEqual([
      expect.objectContaining({ id: "later-job", task: "echo", state: "delayed" }),
    ]);
    const table = await cli(["inspect", "scheduled", "--url", STORE]);
    expect(table.stdout).toMatch(/^scheduler leader: \S+ \(token \d+, lease until /);
    expect(table.stdout).toMatch(/\ntick\s+echo\s+every 200ms/);
    expect(table.stdout).toMatch(/\nlater-job\s+echo\s+default\s+delayed/);

    abort.abort();
    const stopped = await running;
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/conveyor scheduler \S+ started/);
    expect(stopped.stderr).toMatch(/conveyor scheduler \S+ stopped/);
    const after = await cli(["inspect", "scheduled", "--url", STORE, "--json"]);
    expect(JSON.parse(after.stdout).leader).toBeNull();
  });
});
