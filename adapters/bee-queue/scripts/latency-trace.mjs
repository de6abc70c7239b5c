#!/usr/bin/env node
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
// Where one job's end-to-end latency goes, Conveyor on Bee-Queue and bare Bee-Queue: paced jobs
// (default 200/s), each stage timed in µs after the add call. Client stages from this process;
// server stages from MONITOR (the time Redis ran the command, same clock), read by a redis-cli in
// another process so that parsing it costs this one nothing. After a build:
//
//   node adapters/bee-queue/scripts/latency-trace.mjs [jobs] [rate] [bare,ours]
import { createBeeQueue } from "@conveyor/bee-queue";
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import BeeQueue from "bee-queue";
import redisLib from "redis";

const JOBS = Number(process.argv[2] ?? 400);
const RATE = Number(process.argv[3] ?? 200);
const SIDES = (process.argv[4] ?? "bare,ours").split(",");

const redis = await startRedisServer();
const now = () => (performance.timeOrigin + performance.now()) * 1000; // µs since the epoch
/** Per job id: stage name → µs. */
let stages = new Map();
const mark = (id, stage, at = now()) => {
  let job = stages.get(id);
  if (!job) {
    job = {};
    stages.set(id, job);
  }
  job[stage] ??= at;
};

// When each worker's BRPOPLPUSH answered (Bee-Queue and the adapter use this `redis` module).
const brpoplpush = redisLib.RedisClient.prototype.brpoplpush;
redisLib.RedisClient.prototype.brpoplpush = function (...args) {
  const done = args.pop();
  return brpoplpush.call(this, ...args, (error, id) => {
    if (id) mark(id, "brpoplpush answered");
    done(error, id);
  });
};

/** Starts a MONITOR in another process; `stop(stageOf)` marks the server stages it saw. */
async function monitor() {
  // NOMONITOR=1: client stages only (redis-cli takes CPU from this process on a small machine).
  if (process.env.NOMONITOR === "1") return async () => {};
  const file = join(tmpdir(), `bq-monitor-${process.pid}-${Date.now()}.txt`);
  const child = spawn("sh", ["-c", `exec redis-cli -h ${redis.host} -p ${redis.port} monitor > ${file}`]);
  await sleep(300);
  return async (stageOf) => {
    await sleep(300);
    child.kill();
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const match = /^(\d+\.\d+) \[[^\]]*\] (.*)$/.exec(line);
      if (!match) continue;
      const args = [...match[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      const hit = stageOf(args);
      if (hit) mark(hit[0], hit[1], Number(match[1]) * 1e6);
    }
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function paced(add) {
  const gap = 1000 / RATE;
  const began = performance.now();
  for (let i = 0; i < JOBS; i++) {
    const due = began + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    add(i);
  }
}

/** GC pauses (and event-loop delay) while `run` runs. */
async function watched(run) {
  const pauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  observer.observe({ entryTypes: ["gc"] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await run();
  delay.disable();
  observer.disconnect();
  pauses.sort((a, b) => b - a);
  const total = pauses.reduce((sum, ms) => sum + ms, 0);
  console.log(
    `GC: ${pauses.length} pauses, ${total.toFixed(1)} ms in all, longest ${pauses
      .slice(0, 3)
      .map((ms) => ms.toFixed(1))
      .join(", ")} ms; ` +
      `event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(2)} ms, max ${(delay.max / 1e6).toFixed(2)} ms`,
  );
}

function report(name, stagesOf) {
  // Stages no job has (the server's, without MONITOR) are left out.
  const order = stagesOf.filter((stage) => [...stages.values()].some((job) => job[stage] !== undefined));
  const last = order.at(-1);
  const all = [...stages.values()].filter((job) => job[order[0]] !== undefined && job[last] !== undefined);
  all.sort((a, b) => a[order[0]] - b[order[0]]);
  const slowest = all
    .map((job, i) => ({ i, ms: (job[last] - job[order[0]]) / 1000 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, Math.ceil(all.length / 50));
  console.log(
    `${name}: slowest 2 % (index in add order: ms) ${slowest.map((s) => `${s.i}: ${s.ms.toFixed(1)}`).join(", ")}`,
  );
  const rows = [...stages.values()].filter((job) => order.every((stage) => job[stage] !== undefined));
  console.log(`--- ${name}: ${rows.length} of ${JOBS} jobs with every stage; µs after "${order[0]}"`);
  for (const stage of order.slice(1)) {
    const values = rows.map((job) => job[stage] - job[order[0]]).sort((a, b) => a - b);
    const p = (q) => values[Math.min(values.length - 1, Math.floor((values.length * q) / 100))]?.toFixed(0);
    console.log(
      `${stage.padEnd(22)} p50 ${p(50).padStart(7)}  p90 ${p(90).padStart(7)}  p99 ${p(99).padStart(7)}`,
    );
  }
}

async function ours() {
  const prefix = randomPrefix();
  const ids = new Map();
  let onEvent = () => {};
  const task = defineTask({
    name: "trace.noop",
    queue: "q",
    run: (_input, ctx) => {
      mark(ctx.jobId, "handler runs");
      return null;
    },
  });
  const conveyor = await createConveyor({
    queue: createBeeQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [task],
    logger: false,
    env: false,
  });
  const unsubscribe = await conveyor.queue.subscribe(
    (event) => {
      if (event.type === "completed") {
        mark(event.jobId, "event received");
        onEvent();
      }
    },
    { queue: "q" },
  );
  const worker = conveyor.worker({ queues: ["q"], concurrency: 10 });
  await (await conveyor.enqueue(task, -1)).result({ timeoutMs: 10_000 });
  stages = new Map();
  const stop = await monitor();
  const stageOf = (args) => {
    if (args[0] !== "evalsha") return undefined;
    // add-0: ARGV id at 4 (after cv, bq, now); claim-0 and finish-0: job id at 4 too.
    const id = args[6];
    const kind = args.length > 14 ? "add" : args.length === 10 ? "claim" : "finish";
    return [id, `redis runs ${kind}`];
  };
  let events = 0;
  const all = new Promise((resolve) => {
    onEvent = () => {
      if (++events === JOBS) resolve();
    };
  });
  await watched(async () => {
    await paced((i) => {
      const start = now();
      conveyor.enqueue(task, i).then((job) => {
        mark(job.id, "add call", start);
        mark(job.id, "add resolved");
        ids.set(i, job.id);
      });
    });
    await all;
  });
  await stop(stageOf);
  report("ours", [
    "add call",
    "redis runs add",
    "add resolved",
    "brpoplpush answered",
    "redis runs claim",
    "handler runs",
    "redis runs finish",
    "event received",
  ]);
  await unsubscribe();
  await worker.close();
  await conveyor.close();
}

async function bare() {
  const settings = { prefix: randomPrefix(), redis: { host: redis.host, port: redis.port } };
  const producer = new BeeQueue("q", { ...settings, isWorker: false, getEvents: true });
  const worker = new BeeQueue("q", { ...settings, getEvents: false });
  await Promise.all([producer.ready(), worker.ready()]);
  let events = 0;
  let done = () => {};
  const all = new Promise((resolve) => {
    done = resolve;
  });
  producer.on("job succeeded", (id) => {
    mark(String(id), "event received");
    if (++events === JOBS) done();
  });
  worker.process(10, async (job) => {
    mark(job.id, "handler runs");
    return null;
  });
  stages = new Map();
  const stop = await monitor();
  let added = 0;
  const stageOf = (args) => {
    // addJob's HSET of the job data (its id is made in the script).
    if (args[0] === "hset" && args[1].endsWith(":jobs") && Number(args[2]) > added) {
      added = Number(args[2]);
      return [args[2], "redis runs add"];
    }
    if (args[0] === "hget" && args[1].endsWith(":jobs")) return [args[2], "redis runs hget"];
    if (args[0] === "lrem" && args[1].endsWith(":active")) return [args[3], "redis runs finish"];
    return undefined;
  };
  await watched(async () => {
    await paced((i) => {
      const start = now();
      producer
        .createJob(i)
        .save()
        .then((job) => {
          mark(job.id, "add call", start);
          mark(job.id, "add resolved");
        });
    });
    await all;
  });
  await stop(stageOf);
  report("bare", [
    "add call",
    "redis runs add",
    "add resolved",
    "brpoplpush answered",
    "redis runs hget",
    "handler runs",
    "redis runs finish",
    "event received",
  ]);
  await worker.close();
  await producer.close();
}

for (const [name, run] of [
  ["bare", bare],
  ["ours", ours],
]) {
  if (SIDES.includes(name)) await run();
}
await redis.stop();
