import { isConveyorError, type JobEvent, type Logger, type NewJob } from "@conveyor/core";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../src/index.js";

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The adapter on the test's redis-server, quiet. */
const ourQueue = (prefix: string) =>
  createBullmqQueue({ url: `bullmq+${redis.url}`, prefix, log: silent, checkPersistence: false });

function newJob(prefix: string, overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: `${prefix}-${Math.random().toString(36).slice(2)}`,
    queue: `${prefix}-q`,
    task: "demo.echo",
    input: { text: "hi" },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 1,
    ...overrides,
  };
}

describe("the BullMQ adapter", () => {
  it("stores real BullMQ jobs: BullMQ's own Queue sees them with the task as name and the input in data", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    const bull = new Queue(`${prefix}-q`, { connection: { host: redis.host, port: redis.port }, prefix });
    try {
      const job = newJob(prefix, { priority: 5 });
      const later = newJob(prefix, { runAt: Date.now() + 60_000 });
      await queue.add([job, later]);
      const seen = await bull.getJob(job.id);
      expect(seen?.name).toBe("demo.echo");
      expect(seen?.data).toMatchObject({ i: { text: "hi" }, a: 1, p: 5 });
      expect(await bull.getJobCounts("prioritized", "delayed")).toEqual({ prioritized: 1, delayed: 1 });
      expect(await queue.counts(`${prefix}-q`)).toMatchObject({ waiting: 1, delayed: 1 });
    } finally {
      await bull.close();
      await queue.close();
    }
  });

  it("refuses ids and queue names BullMQ cannot hold and priorities outside its range, adding nothing", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    try {
      for (const bad of [
        { id: "42" },
        { id: "a:b" },
        { queue: "a:b" },
        { priority: 1.5 },
        { priority: 2_000_000 },
      ]) {
        const error = await queue.add([newJob(prefix, bad)]).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(isConveyorError(error), `expected a ValidationError for ${JSON.stringify(bad)}`).toBe(true);
        expect((error as Error).name).toBe("ValidationError");
      }
      expect(await queue.listJobs({ queue: `${prefix}-q` })).toEqual([]);
      const pausing = await queue.pause("a:b").then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect((pausing as Error).name).toBe("ValidationError");
    } finally {
      await queue.close();
    }
  });

  it("a consumer of two queues runs at most `concurrency` handlers and claims at most one job per queue beyond them", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    try {
      const names = [`${prefix}-a`, `${prefix}-b`];
      await queue.add(
        names.flatMap((name) => Array.from({ length: 8 }, () => newJob(prefix, { queue: name }))),
      );
      const consumer = queue.consume({ queues: names, concurrency: 3, workerId: "w" }, async (job) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate;
        running--;
        done++;
        return { type: "completed", result: job.record.id };
      });
      await waitFor(() => running === 3, { timeoutMs: 5_000, message: "three handlers running" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const active = (await queue.counts(names[0]!)).active + (await queue.counts(names[1]!)).active;
      expect(running).toBe(3);
      expect(active).toBeGreaterThanOrEqual(3);
      expect(active).toBeLessThanOrEqual(3 + names.length);
      release();
      await waitFor(() => done === 16, { timeoutMs: 10_000, message: "every job done" });
      expect(maxRunning).toBe(3);
      await consumer.close();
    } finally {
      release();
      await queue.close();
    }
  });

  it("two adapters adding one new id at once: one creates it, the other gets it with created: false", async () => {
    const prefix = randomPrefix();
    const url = `bullmq+${redis.url}`;
    const one = createBullmqQueue({ url, prefix, log: silent, checkPersistence: false });
    const two = createBullmqQueue({ url, prefix, log: silent, checkPersistence: false });
    try {
      for (let round = 0; round < 10; round++) {
        const job = newJob(prefix, { id: `${prefix}-same-${round}` });
        const [a, b] = await Promise.all([one.add([job]), two.add([{ ...job, input: { other: true } }])]);
        expect([a[0]!.created, b[0]!.created].filter(Boolean)).toHaveLength(1);
        expect(a[0]!.job.input).toEqual(b[0]!.job.input);
      }
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("an id another queue holds adds nothing to the second queue and leaves no placeholder behind", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    const other = `${prefix}-other`;
    const bull = new Queue(other, { connection: { host: redis.host, port: redis.port }, prefix });
    const client = new Redis({ host: redis.host, port: redis.port });
    try {
      const job = newJob(prefix);
      await queue.add([job]);
      const [again] = await queue.add([{ ...job, queue: other, input: { text: "other" } }]);
      expect(again).toMatchObject({ created: false, job: { queue: job.queue, input: { text: "hi" } } });
      expect(await client.exists(`${prefix}:${other}:${job.id}`)).toBe(0);
      expect(await bull.getJobCounts()).toMatchObject({ waiting: 0, prioritized: 0, delayed: 0 });

      // A placeholder left by a process that died right after placing it hides no later job.
      const fresh = newJob(prefix, { queue: other });
      await client.hset(`${prefix}:${other}:${fresh.id}`, "cvp", "1");
      const [created] = await queue.add([fresh]);
      expect(created).toMatchObject({ created: true });
      expect(await queue.getJob(fresh.id)).toMatchObject({
        state: "waiting",
        queue: other,
        input: { text: "hi" },
      });
    } finally {
      client.disconnect();
      await bull.close();
      await queue.close();
    }
  });

  it("an id whose job expired starts a new job, even before the expired one is swept", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    try {
      const job = newJob(prefix);
      await queue.add([job]);
      const consumer = queue.consume(
        { queues: [job.queue], concurrency: 1, workerId: "w" },
        async (claim) => ({
          type: "completed",
          result: claim.record.input,
          expiresAt: Date.now() + 50,
        }),
      );
      await waitFor(async () => (await queue.getJob(job.id)) === undefined, {
        timeoutMs: 5_000,
        message: "the result to expire",
      });
      await consumer.close();
      const [again] = await queue.add([{ ...job, input: { text: "again" } }]);
      expect(again).toMatchObject({ created: true, job: { state: "waiting", input: { text: "again" } } });
      expect(await queue.getJob(job.id)).toMatchObject({ state: "waiting", input: { text: "again" } });
    } finally {
      await queue.close();
    }
  });

  it("writes a job's active event only while someone listens, yet a subscriber that comes mid-job sees it, ahead of completed", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    const watcher = ourQueue(prefix);
    const client = new Redis({ host: redis.host, port: redis.port });
    const gates: (() => void)[] = [];
    const started: string[] = [];
    const activeEntries = async (name: string) =>
      (await client.xrange(`${prefix}:${name}:events`, "-", "+")).filter(
        ([, fields]) => fields[1] === "cv:active",
      ).length;
    try {
      const first = newJob(prefix);
      await queue.add([first]);
      const consumer = queue.consume(
        { queues: [first.queue], concurrency: 1, workerId: "w" },
        async (job) => {
          started.push(job.record.id);
          await new Promise<void>((resolve) => gates.push(resolve));
          return { type: "completed", result: job.record.id, expiresAt: Date.now() + 60_000 };
        },
      );
      await waitFor(() => started.length === 1, { timeoutMs: 5_000, message: "the first job to start" });
      expect(await activeEntries(first.queue)).toBe(0);

      // Subscribed from another adapter while the job runs: its active event is written late.
      const events: JobEvent[] = [];
      const unsubscribe = await watcher.subscribe((event) => events.push(event), { queue: first.queue });
      gates.shift()!();
      await waitFor(() => events.some((e) => e.type === "completed"), {
        timeoutMs: 5_000,
        message: "the first job's completed event",
      });
      expect(events.map((e) => `${e.type} ${e.jobId}`)).toEqual([
        `active ${first.id}`,
        `completed ${first.id}`,
      ]);
      expect(events[0]!.attempt).toBe(1);

      // Known to listen now: the next job's active event comes as it starts, not at its end.
      const second = newJob(prefix);
      await queue.add([second]);
      await waitFor(() => events.some((e) => e.type === "active" && e.jobId === second.id), {
        timeoutMs: 5_000,
        message: "the second job's active event while it runs",
      });
      expect(started).toEqual([first.id, second.id]);
      await unsubscribe();
      gates.shift()!();
      await waitFor(async () => (await queue.getJob(second.id))?.state === "completed", {
        timeoutMs: 5_000,
        message: "the second job to complete",
      });
      expect((await queue.getJob(second.id))?.expiresAt).toBeGreaterThan(Date.now());
      await consumer.close();
    } finally {
      for (const open of gates) open();
      client.disconnect();
      await watcher.close();
      await queue.close();
    }
  });

  it("jobs completing together over two queues each keep their own result expiry (one finish call per turn)", async () => {
    const prefix = randomPrefix();
    const queue = ourQueue(prefix);
    const names = [`${prefix}-a`, `${prefix}-b`];
    const base = Date.now() + 3_600_000;
    const jobs = names.flatMap((name) => Array.from({ length: 12 }, () => newJob(prefix, { queue: name })));
    const expiry = new Map(jobs.map((job, n) => [job.id, base + n]));
    try {
      await queue.add(jobs);
      let done = 0;
      const consumer = queue.consume({ queues: names, concurrency: 8, workerId: "w" }, async (job) => {
        done++;
        return { type: "completed", result: job.record.id, expiresAt: expiry.get(job.record.id)! };
      });
      await waitFor(
        async () =>
          (await queue.counts(names[0]!)).completed + (await queue.counts(names[1]!)).completed === 24,
        { timeoutMs: 10_000, message: "every job completed" },
      );
      expect(done).toBe(24);
      await consumer.close();
      for (const job of jobs) {
        expect(await queue.getJob(job.id)).toMatchObject({
          state: "completed",
          result: job.id,
          expiresAt: expiry.get(job.id),
        });
      }
    } finally {
      await queue.close();
    }
  });

  it("warns once when Redis keeps no data across a restart", async () => {
    const warnings: string[] = [];
    const log: Logger = { ...silent, warn: (message) => warnings.push(message) };
    const queue = createBullmqQueue({ url: `bullmq+${redis.url}/1`, prefix: randomPrefix(), log });
    try {
      await queue.counts("anything");
      await waitFor(() => warnings.length > 0, { timeoutMs: 5_000, message: "the persistence warning" });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("no persistence");
      expect(warnings[0]).toContain("appendonly yes");
    } finally {
      await queue.close();
    }
  });

  it("a call while Redis is unreachable fails with BackendUnavailableError naming the masked URL", async () => {
    const queue = createBullmqQueue({
      url: "bullmq+redis://:secret@127.0.0.1:1/0",
      prefix: randomPrefix(),
      log: silent,
      checkPersistence: false,
      connectTimeoutMs: 200,
    });
    try {
      const error = await queue.counts("q").then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isConveyorError(error)).toBe(true);
      expect((error as Error).name).toBe("BackendUnavailableError");
      expect((error as Error).message).toContain(":***@127.0.0.1:1");
      expect((error as Error).message).not.toContain("secret");
    } finally {
      await queue.close();
    }
  });
});
