import { describe, expect, it } from "vitest";
import { createLocalScheduleStore, nextTick, normalizeSchedule, ValidationError } from "../src/index.js";

describe("nextTick", () => {
  it("everyMs ticks fall on multiples of everyMs since the epoch, strictly after the given time", () => {
    const every = { everyMs: 1_000 };
    expect(nextTick(every, 0)).toBe(1_000);
    expect(nextTick(every, 999)).toBe(1_000);
    expect(nextTick(every, 1_000)).toBe(2_000);
    expect(nextTick({ everyMs: 60_000 }, Date.UTC(2026, 0, 1, 10, 0, 30))).toBe(Date.UTC(2026, 0, 1, 10, 1));
  });

  it("cron ticks are read in UTC when no time zone is given", () => {
    expect(nextTick({ cron: "0 9 * * *" }, Date.UTC(2026, 0, 1, 0, 0))).toBe(Date.UTC(2026, 0, 1, 9, 0));
    expect(nextTick({ cron: "*/15 * * * *" }, Date.UTC(2026, 0, 1, 0, 14, 59, 999))).toBe(
      Date.UTC(2026, 0, 1, 0, 15),
    );
    // A six-field pattern has seconds.
    expect(nextTick({ cron: "*/10 * * * * *" }, Date.UTC(2026, 0, 1, 0, 0, 1))).toBe(
      Date.UTC(2026, 0, 1, 0, 0, 10),
    );
  });

  it("cron with a time zone follows its daylight saving time", () => {
    const nineInNewYork = { cron: "0 9 * * *", timezone: "America/New_York" };
    // Before the switch (EST, UTC-5) 09:00 is 14:00 UTC; after it (EDT, UTC-4), 13:00 UTC.
    expect(nextTick(nineInNewYork, Date.UTC(2026, 2, 7, 0, 0))).toBe(Date.UTC(2026, 2, 7, 14, 0));
    expect(nextTick(nineInNewYork, Date.UTC(2026, 2, 8, 14, 0))).toBe(Date.UTC(2026, 2, 9, 13, 0));
    const midnightTokyo = { cron: "0 0 * * *", timezone: "Asia/Tokyo" };
    expect(nextTick(midnightTokyo, Date.UTC(2026, 5, 1, 12, 0))).toBe(Date.UTC(2026, 5, 1, 15, 0));
  });
});

describe("normalizeSchedule", () => {
  it("sets missed to skip, keeps JSON input, and gives equal definitions equal fingerprints", () => {
    const a = normalizeSchedule({ name: "n", task: "t", everyMs: 1_000, input: { b: 1, a: [1, 2] } });
    const b = normalizeSchedule({ input: { a: [1, 2], b: 1 }, everyMs: 1_000, task: "t", name: "n" });
    expect(a.schedule.missed).toBe("skip");
    expect(a.fingerprint).toBe(b.fingerprint);
    const c = normalizeSchedule({ name: "n", task: "t", everyMs: 2_000, input: { b: 1, a: [1, 2] } });
    expect(c.fingerprint).not.toBe(a.fingerprint);
  });

  it("lists every problem of a bad definition in one ValidationError", () => {
    let error: unknown;
    try {
      normalizeSchedule({
        name: "",
        task: "t",
        cron: "0 9 * * *",
        everyMs: 5,
        timezone: "Mars/Olympus",
        missed: "sometimes" as "skip",
        input: { big: 10n },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(["cron", "everyMs", "input", "missed", "name", "timezone"]);
    expect((error as Error).message).toMatch(/^\[conveyor:scheduler\] the schedule is invalid: /);
  });

  it("refuses a cron pattern it cannot read and a time zone without cron", () => {
    expect(() => normalizeSchedule({ name: "n", task: "t", cron: "every day" })).toThrow(/cron: /);
    expect(() => normalizeSchedule({ name: "n", task: "t", everyMs: 1_000, timezone: "UTC" })).toThrow(
      /timezone: only applies to cron schedules/,
    );
    expect(() => normalizeSchedule({ name: "n", task: "t" })).toThrow(/give exactly one of cron and everyMs/);
  });
});

describe("createLocalScheduleStore", () => {
  const entry = (everyMs: number, nextRunAt: number) => {
    const { schedule, fingerprint } = normalizeSchedule({ name: "s", task: "t", everyMs });
    return { schedule, fingerprint, nextRunAt, now: 1 };
  };

  it("upserts idempotently: the same definition keeps its next run, a changed one resets it", async () => {
    const store = createLocalScheduleStore();
    expect((await store.upsert(entry(1_000, 5_000))).status).toBe("created");
    expect((await store.upsert(entry(1_000, 9_000))).schedule.nextRunAt).toBe(5_000);
    const updated = await store.upsert(entry(2_000, 8_000));
    expect(updated).toMatchObject({ status: "updated", schedule: { nextRunAt: 8_000, everyMs: 2_000 } });
  });

  it("grants one lease at a time with growing tokens, and advance checks the token and the expected tick", async () => {
    const store = createLocalScheduleStore();
    await store.upsert(entry(1_000, 5_000));
    const a = await store.acquireLease("a", 60);
    expect(a).toEqual({ owner: "a", token: 1 });
    expect(await store.acquireLease("b", 60)).toBeUndefined();
    expect(await store.advance("s", { lease: a!, expectedNextRunAt: 4_000, nextRunAt: 6_000 })).toBe(false);
    expect(await store.advance("s", { lease: a!, expectedNextRunAt: 5_000, nextRunAt: 6_000 })).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const b = await store.acquireLease("b", 60_000);
    expect(b?.token).toBe(2);
    // The old leader's token is fenced off.
    expect(await store.renewLease(a!, 60_000)).toBe(false);
    expect(await store.advance("s", { lease: a!, expectedNextRunAt: 6_000, nextRunAt: 7_000 })).toBe(false);
    expect((await store.get("s"))?.nextRunAt).toBe(6_000);
    await store.releaseLease(b!);
    expect(await store.leader()).toBeUndefined();
  });
});
