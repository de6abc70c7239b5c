import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conveyor,
  createConveyor,
  createScheduler,
  defineTask,
  type QueueAdapter,
  SCHEDULE_META,
  silentLogger,
} from "@conveyor/core";
import { createDiskQueue } from "@conveyor/disk";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FixtureProcess, killLeftovers, startFixture, stopFixture } from "../support/processes.js";

const TASK = "schedules.tick";

interface SchedulerProcess extends FixtureProcess {
  /** `fired` lines: the ticks this process enqueued, with whether the job was new. */
  readonly fired: { tick: number; created: boolean }[];
  /** `leads` lines: when (epoch ms, as seen here) it became the leader, and its token. */
  readonly leads: { at: number; token: number }[];
}

/** A scheduler process running the adapters from source (tsx), see fixtures/scheduler.ts. */
function startScheduler(args: (string | number)[]): SchedulerProcess {
  const fired: { tick: number; created: boolean }[] = [];
  const leads: { at: number; token: number }[] = [];
  const started = startFixture("schedules/fixtures/scheduler.ts", args, (line) => {
    const fire = /^fired (\d+) (true|false)$/.exec(line);
    if (fire) fired.push({ tick: Number(fire[1]), created: fire[2] === "true" });
    const lead = /^leads (\d+)$/.exec(line);
    if (lead) leads.push({ at: Date.now(), token: Number(lead[1]) });
  });
  return { ...started, fired, leads };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  killLeftovers();
  for (const close of closers.splice(0).reverse()) await close();
});

let redis: RedisServerHandle;
const folders: string[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Backend {
  name: string;
  /** Where a test's processes meet: a folder (disk) or the server's URL (redis). */
  location(): string;
  queue(location: string, prefix: string): QueueAdapter;
}

const BACKENDS: Backend[] = [
  {
    name: "disk",
    location: () => {
      const folder = mkdtempSync(join(tmpdir(), "conveyor-schedules-"));
      folders.push(folder);
      return folder;
    },
    queue: (location) => createDiskQueue({ path: location }),
  },
  {
    name: "redis",
    location: () => redis.url,
    queue: (location, prefix) => createRedisQueue({ url: location, prefix, log: silentLogger }),
  },
];

/** The platform of the test process on the same backend, with a worker running the ticks. */
async function observer(backend: Backend, location: string, prefix: string): Promise<Conveyor> {
  const queue = backend.queue(location, prefix);
  const tick = defineTask({ name: TASK, queue: `${prefix}-q`, run: (input: unknown) => input });
  const conveyor = await createConveyor({
    queue,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [tick],
    logger: false,
    env: false,
  });
  const worker = conveyor.worker({ queues: [`${prefix}-q`], concurrency: 4 });
  closers.push(async () => {
    await worker.close({ drain: false });
    await conveyor.close();
    await queue.close();
  });
  return conveyor;
}

/** Ticks of the schedule's jobs, oldest first, and how many of them completed. */
async function jobsOf(conveyor: Conveyor, name: string) {
  const jobs = (await conveyor.listJobs({ limit: 100_000 })).filter(
    (job) => job.meta?.[SCHEDULE_META.schedule] === name,
  );
  const ticks = jobs.map((job) => Number(job.meta![SCHEDULE_META.tick])).sort((a, b) => a - b);
  return { ticks, completed: jobs.filter((job) => job.state === "completed").length, jobs };
}

function expectConsecutive(ticks: readonly number[], everyMs: number): void {
  expect(new Set(ticks).size).toBe(ticks.length);
  const gaps = ticks.slice(1).filter((tick, i) => tick - ticks[i]! !== everyMs);
  expect(gaps).toEqual([]);
}

describe.each(BACKENDS)("schedules across processes: $name", (backend) => {
  it("two scheduler processes running an every-second cron for 60 s enqueue and run 60 jobs (±1)", async () => {
    const location = backend.location();
    const prefix = randomPrefix();
    const conveyor = await observer(backend, location, prefix);
    const args = [backend.name, location, prefix, 3_000, 100, "[]"];
    const one = startScheduler(args);
    const two = startScheduler(args);
    await Promise.all([one.ready, two.ready]);
    // The schedule lives from its upsert to its removal, both from this process, so the window
    // is exact whatever the two processes took to start and stop.
    const admin = createScheduler(conveyor);
    // A six-field cron pattern ticking every second: the same cron in both processes.
    await admin.add({ name: "every-second", task: TASK, cron: "* * * * * *", timezone: "Europe/Berlin" });
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    await admin.remove("every-second");
    const stopped = Date.now();
    await Promise.all([stopFixture(one), stopFixture(two)]);

    const { ticks } = await jobsOf(conveyor, "every-second");
    // Whole seconds inside the window: 60, give or take one at each edge.
    const inWindow = Math.floor(stopped / 1_000) - Math.ceil(started / 1_000) + 1;
    expect(ticks.length).toBeGreaterThanOrEqual(59);
    expect(ticks.length).toBeLessThanOrEqual(61);
    expect(Math.abs(ticks.length - inWindow)).toBeLessThanOrEqual(1);
    expectConsecutive(ticks, 1_000);
    // One leader the whole time: every enqueue was new, none was a duplicate that add() absorbed.
    const fired = [...one.fired, ...two.fired];
    expect(fired.length).toBe(ticks.length);
    expect(fired.every((f) => f.created)).toBe(true);
    expect(Math.min(one.fired.length, two.fired.length)).toBe(0);
    await waitFor(async () => (await jobsOf(conveyor, "every-second")).completed === ticks.length, {
      timeoutMs: 15_000,
      message: "every scheduled job completed",
    });
  }, 120_000);

  it("kill -9 of the leader: the other process leads within one lease, and no tick is lost or repeated", async () => {
    const location = backend.location();
    const prefix = randomPrefix();
    const conveyor = await observer(backend, location, prefix);
    const leaseMs = 1_500;
    const everyMs = 250;
    const schedule = JSON.stringify([{ name: "fast", task: TASK, everyMs }]);
    const args = [backend.name, location, prefix, leaseMs, 50, schedule];
    const first = startScheduler(args);
    await first.ready;
    await waitFor(() => first.leads.length > 0, { timeoutMs: 5_000, message: "the first process leads" });
    const second = startScheduler(args);
    await second.ready;
    await waitFor(() => first.fired.length >= 6, { timeoutMs: 10_000, message: "six ticks" });
    expect(second.leads).toEqual([]);

    first.child.kill("SIGKILL");
    const killedAt = Date.now();
    await first.exited;
    await waitFor(() => second.leads.length > 0, { timeoutMs: 10_000, message: "the second process leads" });
    const handoverMs = second.leads[0]!.at - killedAt;
    expect(handoverMs).toBeLessThanOrEqual(leaseMs + 500);
    expect(second.leads[0]!.token).toBeGreaterThan(0);
    await waitFor(() => second.fired.length >= 6, { timeoutMs: 10_000, message: "six more ticks" });
    await stopFixture(second);

    const { ticks } = await jobsOf(conveyor, "fast");
    // The ticks due during the handover were late by less than graceMs (2 × lease), so each ran.
    expectConsecutive(ticks, everyMs);
    expect(ticks.length).toBeGreaterThanOrEqual(first.fired.length + 6);
    // A tick the dead leader enqueued but had not advanced past is enqueued again by the new one;
    // its job id absorbs the repeat.
    const repeated = second.fired.filter((f) => !f.created).length;
    expect(repeated).toBeLessThanOrEqual(1);
    expect(first.fired.length + second.fired.length - repeated).toBe(ticks.length);
  }, 60_000);
});
