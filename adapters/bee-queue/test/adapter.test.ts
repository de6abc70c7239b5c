import { createConveyor, defineTask, type JobEvent, type Logger, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import BeeQueue from "bee-queue";
import { createClient, type RedisClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BEE_QUEUE_CAPABILITIES, conveyorAdapter, createBeeQueue } from "../src/index.js";

let redis: RedisServerHandle;
let admin: RedisClient;
beforeAll(async () => {
  redis = await startRedisServer();
  admin = createClient({ url: redis.url });
});
afterAll(async () => {
  admin?.quit();
  await redis?.stop();
});

const command = <T>(name: string, ...args: string[]): Promise<T> =>
  new Promise<T>((resolve, reject) =>
    (
      admin as unknown as { send_command(n: string, a: string[], cb: (e: Error | null, r: T) => void): void }
    ).send_command(name, args, (error, reply) => (error ? reject(error) : resolve(reply))),
  );

/** Connections the server has open, by client name and all. */
const connections = async () => (await command<string>("CLIENT", "LIST")).trim().split("\n").length;

const platform = (queue: ReturnType<typeof createBeeQueue>, tasks: ReturnType<typeof defineTask>[]) =>
  createConveyor({
    queue,
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks,
    logger: false,
    env: false,
  });

describe("bee-queue adapter", () => {
  it("declares no priority and no pause, and the platform refuses them with UnsupportedFeatureError", async () => {
    expect(BEE_QUEUE_CAPABILITIES).toMatchObject({
      priority: false,
      pause: false,
      delayed: true,
      results: true,
    });
    const prefix = randomPrefix();
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const task = defineTask({ name: "t.noop", queue: `${prefix}-q`, run: () => null });
    const conveyor = await platform(queue, [task]);
    try {
      await expect(conveyor.pause(`${prefix}-q`)).rejects.toMatchObject({
        name: "UnsupportedFeatureError",
        details: { adapter: "bee-queue" },
      });
      await expect(queue.pause(`${prefix}-q`)).rejects.toMatchObject({ name: "UnsupportedFeatureError" });
      await expect(conveyor.enqueue(task, null, { priority: 5 })).rejects.toMatchObject({
        name: "UnsupportedFeatureError",
      });
      expect(await queue.listJobs({ queue: `${prefix}-q` })).toEqual([]);
    } finally {
      await conveyor.close();
      await queue.close();
    }
  });

  it("refuses queue names in Conveyor's reserved key space", async () => {
    const queue = createBeeQueue({ url: redis.url, prefix: randomPrefix(), log: silentLogger });
    try {
      const now = Date.now();
      await expect(
        queue.add([
          {
            id: "x",
            queue: "#conveyor",
            task: "t",
            input: null,
            priority: 0,
            runAt: now,
            createdAt: now,
            maxAttempts: 1,
          },
        ]),
      ).rejects.toMatchObject({ name: "ValidationError" });
      expect(() =>
        queue.consume({ queues: ["#conveyor:q"], concurrency: 1, workerId: "w" }, async () => ({
          type: "completed",
          result: null,
        })),
      ).toThrow(/reserved/);
    } finally {
      await queue.close();
    }
  });

  it("plain Bee-Queue listeners hear Conveyor jobs finish, with the result as Bee-Queue sends it", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const listener = new BeeQueue(name, {
      prefix,
      redis: { url: redis.url },
      isWorker: false,
      getEvents: true,
    });
    await listener.ready();
    const heard: [string, string, unknown][] = [];
    listener.on("job succeeded", (id, result) => heard.push(["succeeded", id, result]));
    listener.on("job progress", (id, progress) => heard.push(["progress", id, progress]));
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const task = defineTask({
      name: "t.double",
      queue: name,
      run: async ({ n }: { n: number }, ctx) => {
        await ctx.progress(1, 2, "half");
        return n * 2;
      },
    });
    const conveyor = await platform(queue, [task]);
    const worker = conveyor.worker();
    try {
      const job = await conveyor.enqueue(task, { n: 21 });
      expect(await job.result({ timeoutMs: 5_000 })).toBe(42);
      await waitFor(() => heard.some(([event]) => event === "succeeded"), { timeoutMs: 5_000 });
      expect(heard).toEqual([
        ["progress", job.id, { current: 1, total: 2, message: "half" }],
        ["succeeded", job.id, 42],
      ]);
    } finally {
      await worker.close();
      await conveyor.close();
      await queue.close();
      await listener.close();
    }
  });

  it("events of a job run by a plain Bee-Queue worker map to Conveyor events", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-plain`;
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const events: JobEvent[] = [];
    const unsubscribe = await queue.subscribe((event) => events.push(event), { queue: name });
    const bee = new BeeQueue(name, { prefix, redis: { url: redis.url } });
    try {
      bee.process(async (job) => {
        job.reportProgress(50);
        return { echoed: job.data };
      });
      const job = await bee.createJob({ hello: "bee" }).save();
      await waitFor(() => events.some((e) => e.type === "completed"), { timeoutMs: 5_000 });
      expect(events.map((e) => e.type)).toEqual(["progress", "completed"]);
      expect(events[0]).toMatchObject({ jobId: job.id, queue: name, progress: { current: 50 } });
      expect(events[1]).toMatchObject({ jobId: job.id, queue: name, result: { echoed: { hello: "bee" } } });
    } finally {
      await unsubscribe();
      await bee.close();
      await queue.close();
    }
  });

  it("a job added by plain Bee-Queue to a queue Conveyor consumes is dropped with a clear error, and the worker goes on", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-mixed`;
    const errors: unknown[] = [];
    const queue = createBeeQueue({
      url: redis.url,
      prefix,
      log: silentLogger,
      onError: (e) => errors.push(e),
    });
    const task = defineTask({ name: "t.echo", queue: name, run: (input: { v: number }) => input.v });
    const conveyor = await platform(queue, [task]);
    const worker = conveyor.worker();
    const producer = new BeeQueue(name, {
      prefix,
      redis: { url: redis.url },
      isWorker: false,
      getEvents: false,
    });
    try {
      await producer.createJob({ not: "conveyor" }).save();
      await waitFor(() => errors.length > 0, { timeoutMs: 5_000, message: "the foreign job to be reported" });
      expect(errors[0]).toMatchObject({ code: "FOREIGN_JOB" });
      const job = await conveyor.enqueue(task, { v: 7 });
      expect(await job.result({ timeoutMs: 5_000 })).toBe(7);
    } finally {
      await worker.close();
      await conveyor.close();
      await queue.close();
      await producer.close();
    }
  });

  it("a bulk add of 1,200 jobs (one id twice) stores each once, tells the added ones a message per call, and they run first in, first out", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-bulk`;
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const order: number[] = [];
    const task = defineTask({
      name: "t.ordered",
      queue: name,
      run: ({ n }: { n: number }) => {
        order.push(n);
        return n;
      },
    });
    const conveyor = await platform(queue, [task]);
    try {
      const now = Date.now();
      const jobs = Array.from({ length: 1_200 }, (_, n) => ({
        id: `${prefix}-${n}`,
        queue: name,
        task: "t.ordered",
        input: { n },
        priority: 0,
        runAt: now,
        createdAt: now,
        maxAttempts: 1,
      }));
      const added: string[] = [];
      const unsubscribe = await queue.subscribe(
        (event) => {
          if (event.type === "added") added.push(event.jobId);
        },
        { queue: name },
      );
      const before = Number(
        (await command<string>("INFO", "commandstats")).match(/cmdstat_publish:calls=(\d+)/)?.[1] ?? 0,
      );
      const results = await queue.add([...jobs, { ...jobs[7]!, input: { n: -1 } }]);
      const after = Number(
        (await command<string>("INFO", "commandstats")).match(/cmdstat_publish:calls=(\d+)/)?.[1] ?? 0,
      );
      // One PUBLISH per script call (the adapter adds 500 jobs per call), not one per job.
      expect(after - before).toBe(3);
      await waitFor(() => added.length === 1_200, { timeoutMs: 5_000 });
      expect(added).toEqual(jobs.map((job) => job.id));
      await unsubscribe();
      expect(results.filter((r) => r.created)).toHaveLength(1_200);
      expect(results.at(-1)).toMatchObject({ created: false, job: { id: `${prefix}-7`, input: { n: 7 } } });
      expect(await queue.counts(name)).toMatchObject({ waiting: 1_200 });
      const worker = conveyor.worker({ concurrency: 1 });
      // With no listener left, a worker is not sent every job's events.
      await waitFor(async () => (await queue.counts(name)).completed > 0, { timeoutMs: 15_000 });
      expect(await command<number>("PUBSUB", "NUMPAT")).toBe(0);
      await waitFor(async () => (await queue.counts(name)).completed === 1_200, { timeoutMs: 15_000 });
      await worker.close();
      expect(order).toEqual(jobs.map((_, n) => n));
    } finally {
      await conveyor.close();
      await queue.close();
    }
  }, 30_000);

  it("a worker closing on a busy queue hands back the job its last finish took: first in line again, never run twice", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    try {
      const now = Date.now();
      const ids = Array.from({ length: 5 }, (_, n) => `${prefix}-${n}`);
      await queue.add(
        ids.map((id) => ({
          id,
          queue: name,
          task: "t",
          input: null,
          priority: 0,
          runAt: now,
          createdAt: now,
          maxAttempts: 1,
        })),
      );
      const ran: string[] = [];
      let closing: Promise<void> | undefined;
      const first = queue.consume({ queues: [name], concurrency: 1, workerId: "w1" }, async (job) => {
        ran.push(job.record.id);
        // Closing once the job has ended: its finish took the next job, which no take of this
        // worker runs.
        setImmediate(() => {
          closing = first.close({ drain: true });
        });
        return { type: "completed", result: null };
      });
      await waitFor(() => closing !== undefined, { timeoutMs: 5_000 });
      await closing;
      expect(ran).toEqual([ids[0]]);
      expect(await command<string[]>("LRANGE", `${prefix}:${name}:active`, "0", "-1")).toEqual([]);
      // Bee-Queue's workers take from the right: the job handed back is next.
      expect(await command<string[]>("LRANGE", `${prefix}:${name}:waiting`, "0", "-1")).toEqual(
        ids.slice(1).reverse(),
      );
      expect(await queue.getJob(ids[1]!)).toMatchObject({ state: "waiting", attempt: 0 });
      expect(await queue.counts(name)).toMatchObject({ waiting: 4, active: 0, completed: 1 });

      const second = queue.consume({ queues: [name], concurrency: 1, workerId: "w2" }, async (job) => {
        ran.push(job.record.id);
        return { type: "completed", result: null };
      });
      await waitFor(async () => (await queue.counts(name)).completed === 5, { timeoutMs: 5_000 });
      await second.close();
      expect(ran).toEqual(ids);
      expect(await queue.getJob(ids[1]!)).toMatchObject({ state: "completed", attempt: 1 });
    } finally {
      await queue.close();
    }
  });

  it("an expired job leaves nothing behind: its record, its index entries and its Bee-Queue entry go", async () => {
    const prefix = randomPrefix();
    const name = `${prefix}-q`;
    const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger });
    const task = defineTask({ name: "t.brief", queue: name, run: () => "done" });
    const conveyor = await createConveyor({
      queue,
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [task],
      resultTtlMs: 100,
      logger: false,
      env: false,
    });
    const worker = conveyor.worker();
    try {
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: 5_000 })).toBe("done");
      // The finish script records the success on Bee-Queue's side too.
      await waitFor(
        async () => (await command<number>("SISMEMBER", `${prefix}:${name}:succeeded`, job.id)) === 1,
        {
          timeoutMs: 5_000,
        },
      );
      await waitFor(async () => (await queue.getJob(job.id)) === undefined, { timeoutMs: 5_000 });
      // The next add cleans up after jobs whose TTL has passed.
      const next = await conveyor.enqueue(task, null);
      await next.result({ timeoutMs: 5_000 });
      expect(await command<number>("SISMEMBER", `${prefix}:${name}:succeeded`, job.id)).toBe(0);
      expect(await command<number>("HEXISTS", `${prefix}:${name}:jobs`, job.id)).toBe(0);
      expect(await command<number>("ZSCORE", `${prefix}:#conveyor:all`, job.id)).toBeNull();
      expect(await command<number>("SISMEMBER", `${prefix}:#conveyor:s:${name}:pending`, job.id)).toBe(0);
      expect(await command<number>("ZSCORE", `${prefix}:#conveyor:expiring`, job.id)).toBeNull();
      expect(await command<number>("EXISTS", `${prefix}:#conveyor:j:${job.id}`)).toBe(0);
    } finally {
      await worker.close();
      await conveyor.close();
      await queue.close();
    }
  });

  it("warns when Redis keeps nothing across a restart or may evict keys", async () => {
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (message: string) => warnings.push(message) };
    // A server of its own: the check runs once per server and process.
    const fresh = await startRedisServer({ args: ["--maxmemory-policy", "allkeys-lru"] });
    const queue = createBeeQueue({ url: fresh.url, prefix: randomPrefix(), log });
    try {
      await queue.counts("q");
      await waitFor(() => warnings.length > 0, { timeoutMs: 5_000, message: "the persistence warning" });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/no persistence.*appendonly yes/);
      expect(warnings[0]).toMatch(/maxmemory-policy is allkeys-lru.*noeviction/);
    } finally {
      await queue.close();
      await fresh.stop();
    }
  });

  it("close() releases every connection it opened: command, blocking, delayed-timer and subscriber", async () => {
    const before = await connections();
    const prefix = randomPrefix();
    const url = `bee-queue+redis://${redis.host}:${redis.port}/0?prefix=${prefix}&checkIntervalMs=200`;
    const queue = await conveyorAdapter.createQueue!({ url, parsed: new URL(url) });
    const task = defineTask({ name: "t.one", queue: `${prefix}-a`, run: () => 1 });
    const conveyor = await platform(queue, [task]);
    conveyor.worker({ queues: [`${prefix}-a`, `${prefix}-b`] });
    const job = await conveyor.enqueue(task, null);
    await job.result({ timeoutMs: 5_000 });
    await queue.subscribe(() => {});
    expect(await connections()).toBeGreaterThan(before);
    await conveyor.close();
    await queue.close();
    await waitFor(async () => (await connections()) === before, {
      timeoutMs: 5_000,
      message: "the server to see every connection closed",
    });
  });
});
