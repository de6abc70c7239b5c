import {
  type Conveyor,
  type JobRecord,
  SCHEDULE_META,
  scheduleJobId,
  UnknownTaskError,
  ValidationError,
} from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { type ScheduleSuite, TICK_TASK } from "./kit.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Jobs of one schedule, by tick, oldest first. */
async function jobsOf(conveyor: Conveyor, name: string): Promise<JobRecord[]> {
  const all = await conveyor.listJobs({ limit: 10_000 });
  return all
    .filter((job) => job.meta?.[SCHEDULE_META.schedule] === name)
    .sort((a, b) => Number(a.meta![SCHEDULE_META.tick]) - Number(b.meta![SCHEDULE_META.tick]));
}

const ticksOf = (jobs: readonly JobRecord[]) => jobs.map((job) => Number(job.meta![SCHEDULE_META.tick]));

/** The scheduler in the core running on the adapter's store. */
export function schedulerTests(suite: ScheduleSuite): void {
  describe("scheduler", () => {
    it("two schedulers on one backend enqueue every tick exactly once, with ids schedule/<name>/<tick>", async () => {
      const prefix = suite.prefix();
      const one = await suite.platform(prefix);
      const two = await suite.platform(prefix);
      const everyMs = suite.ms(200);
      const options = { leaseMs: suite.ms(2_000), pollIntervalMs: suite.ms(20) };
      const schedules = [{ name: "every", task: TICK_TASK, everyMs, input: { n: 1 } }];
      const a = suite.scheduler(one, { ...options, schedules });
      const b = suite.scheduler(two, { ...options, schedules });
      await Promise.all([a.start(), b.start()]);
      const started = Date.now();
      await sleep(suite.ms(2_500));
      await a.close();
      await b.close();
      const stopped = Date.now();
      const jobs = await jobsOf(one, "every");
      const ticks = ticksOf(jobs);
      expect(new Set(ticks).size).toBe(ticks.length);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(everyMs);
      // Every tick inside the window, give or take one at each edge.
      const expected = Math.floor(stopped / everyMs) - Math.ceil(started / everyMs) + 1;
      expect(ticks.length).toBeGreaterThanOrEqual(expected - 1);
      expect(ticks.length).toBeLessThanOrEqual(expected + 1);
      for (const job of jobs) {
        expect(job.id).toBe(scheduleJobId("every", Number(job.meta![SCHEDULE_META.tick])));
        expect(job).toMatchObject({ task: TICK_TASK, input: { n: 1 }, queue: `${prefix}-q` });
      }
    });

    it("when the leader closes, the other scheduler takes over without losing or repeating a tick", async () => {
      const prefix = suite.prefix();
      const one = await suite.platform(prefix);
      const two = await suite.platform(prefix);
      const everyMs = suite.ms(200);
      const options = { leaseMs: suite.ms(2_000), pollIntervalMs: suite.ms(20) };
      const a = suite.scheduler(one, { ...options, schedules: [{ name: "h", task: TICK_TASK, everyMs }] });
      await a.start();
      await suite.waitFor(() => a.isLeader, "the first scheduler leads");
      const b = suite.scheduler(two, options);
      await b.start();
      await suite.waitFor(async () => (await jobsOf(one, "h")).length >= 3, "three ticks");
      expect(b.isLeader).toBe(false);
      const before = await a.leader();
      await a.close();
      await suite.waitFor(() => b.isLeader, "the second scheduler leads");
      expect((await b.leader())!.token).toBeGreaterThan(before!.token);
      const count = (await jobsOf(one, "h")).length;
      await suite.waitFor(async () => (await jobsOf(one, "h")).length >= count + 3, "three more ticks");
      const ticks = ticksOf(await jobsOf(one, "h"));
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(everyMs);
    });

    it("missed ticks: skip drops them, catchUp runs the first of them once, then both go on", async () => {
      const prefix = suite.prefix();
      const conveyor = await suite.platform(prefix);
      const store = conveyor.queue.schedules!;
      const everyMs = 60_000;
      const now = Date.now();
      const firstMissed = (Math.floor(now / everyMs) - 10) * everyMs;
      await store.upsert(suite.entry({ name: "skipper", everyMs, missed: "skip" }, firstMissed));
      await store.upsert(suite.entry({ name: "catcher", everyMs, missed: "catchUp" }, firstMissed));
      const scheduler = suite.scheduler(conveyor, { leaseMs: suite.ms(5_000), graceMs: 0 });
      expect(await scheduler.runOnce()).toBe(1);
      expect(await jobsOf(conveyor, "skipper")).toEqual([]);
      const caught = await jobsOf(conveyor, "catcher");
      expect(caught.map((job) => job.id)).toEqual([scheduleJobId("catcher", firstMissed)]);
      expect(caught[0]!.meta).toMatchObject({ [SCHEDULE_META.catchUp]: "true" });
      const next = (Math.floor(Date.now() / everyMs) + 1) * everyMs;
      expect(await store.get("skipper")).toMatchObject({ nextRunAt: next });
      expect((await store.get("skipper"))!.lastRunAt).toBeUndefined();
      expect(await store.get("catcher")).toMatchObject({
        nextRunAt: next,
        lastRunAt: firstMissed,
        lastJobId: scheduleJobId("catcher", firstMissed),
      });
      expect(await scheduler.runOnce()).toBe(0);
    });

    it("ticks late by less than graceMs each run (a leader handover loses none)", async () => {
      const prefix = suite.prefix();
      const conveyor = await suite.platform(prefix);
      const store = conveyor.queue.schedules!;
      const everyMs = 1_000;
      const firstLate = (Math.floor(Date.now() / everyMs) - 3) * everyMs;
      await store.upsert(suite.entry({ name: "late", everyMs, missed: "skip" }, firstLate));
      const scheduler = suite.scheduler(conveyor, { leaseMs: suite.ms(5_000), graceMs: 60_000 });
      expect(await scheduler.runOnce()).toBeGreaterThanOrEqual(4);
      const ticks = ticksOf(await jobsOf(conveyor, "late"));
      expect(ticks[0]).toBe(firstLate);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(everyMs);
      expect((await store.get("late"))!.nextRunAt).toBeGreaterThan(Date.now());
    });

    it("a cron schedule with a time zone fires on its ticks and stores the zone's next run", async () => {
      const prefix = suite.prefix();
      const conveyor = await suite.platform(prefix);
      const scheduler = suite.scheduler(conveyor, { leaseMs: suite.ms(2_000), pollIntervalMs: suite.ms(20) });
      const nine = await scheduler.add({
        name: "nine-in-new-york",
        task: TICK_TASK,
        cron: "0 9 * * *",
        timezone: "America/New_York",
      });
      const wallClock = new Intl.DateTimeFormat("en-GB", {
        timeZone: "America/New_York",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      }).format(nine.schedule.nextRunAt);
      expect(wallClock).toBe("09:00:00");
      expect(nine.schedule.nextRunAt - Date.now()).toBeLessThanOrEqual(86_400_000 + 3_600_000);
      await scheduler.add({
        name: "each-second",
        task: TICK_TASK,
        cron: "* * * * * *",
        timezone: "Asia/Kolkata",
      });
      await scheduler.start();
      await suite.waitFor(
        async () => (await jobsOf(conveyor, "each-second")).length >= 2,
        "two cron ticks",
        10_000,
      );
      const ticks = ticksOf(await jobsOf(conveyor, "each-second"));
      for (const tick of ticks) expect(tick % 1_000).toBe(0);
      expect(ticks[1]! - ticks[0]!).toBe(1_000);
      expect(await jobsOf(conveyor, "nine-in-new-york")).toEqual([]);
    });

    it("add checks the task and the input; a tick whose job cannot be built is recorded and passed", async () => {
      const prefix = suite.prefix();
      const conveyor = await suite.platform(prefix);
      const scheduler = suite.scheduler(conveyor, { leaseMs: suite.ms(5_000), graceMs: 120_000 });
      await expect(scheduler.add({ name: "x", task: "nobody.knows", everyMs: 1_000 })).rejects.toBeInstanceOf(
        UnknownTaskError,
      );
      await expect(scheduler.add({ name: "x", task: TICK_TASK, cron: "61 * * * *" })).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect(await scheduler.list()).toEqual([]);
      // A schedule stored by a process that knew a task this one does not.
      const store = conveyor.queue.schedules!;
      const tick = Math.floor(Date.now() / 60_000) * 60_000;
      await store.upsert(suite.entry({ name: "orphan", task: "nobody.knows", everyMs: 60_000 }, tick));
      await scheduler.runOnce();
      const orphan = await store.get("orphan");
      expect(orphan).toMatchObject({ lastRunAt: tick });
      expect(orphan!.lastError).toMatch(/unknown task "nobody\.knows"/);
      expect(orphan!.nextRunAt).toBeGreaterThan(tick);
    });

    it("schedules and their next run survive a restart of every scheduler", async () => {
      const prefix = suite.prefix();
      const one = await suite.platform(prefix);
      const first = suite.scheduler(one, { leaseMs: suite.ms(2_000), pollIntervalMs: suite.ms(20) });
      const added = await first.add({ name: "kept", task: TICK_TASK, everyMs: suite.ms(200) });
      await first.start();
      await suite.waitFor(async () => (await jobsOf(one, "kept")).length >= 2, "two ticks");
      await first.close();
      const two = await suite.platform(prefix);
      const second = suite.scheduler(two, {
        leaseMs: suite.ms(2_000),
        pollIntervalMs: suite.ms(20),
        schedules: [{ name: "kept", task: TICK_TASK, everyMs: suite.ms(200) }],
      });
      const stored = (await second.get("kept"))!;
      expect(stored.createdAt).toBe(added.schedule.createdAt);
      await second.start();
      expect((await second.get("kept"))!.updatedAt).toBe(added.schedule.updatedAt);
      const count = (await jobsOf(two, "kept")).length;
      await suite.waitFor(async () => (await jobsOf(two, "kept")).length >= count + 2, "two more ticks");
      const ticks = ticksOf(await jobsOf(two, "kept"));
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(await second.remove("kept")).toBe(true);
      expect(await second.list()).toEqual([]);
    });
  });
}
