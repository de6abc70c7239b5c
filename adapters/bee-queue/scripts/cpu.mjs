#!/usr/bin/env node
// Node CPU per processed job (user and system apart) and jobs/s, Conveyor on Bee-Queue and bare
// Bee-Queue, rounds interleaved on one ephemeral redis-server. CPU per job holds on a loaded
// machine where jobs/s does not. After a build:
//
//   node adapters/bee-queue/scripts/cpu.mjs [jobs] [rounds] [concurrency] [bare,ours]
//
// PROFILE=dir writes a CPU profile of each timed window there (summarise it with
// bench/src/top-functions.ts).
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createBeeQueue } from "@conveyor/bee-queue";
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import BeeQueue from "bee-queue";
import redisLib from "redis";

const JOBS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = Number(process.argv[4] ?? 1);
const SIDES = (process.argv[5] ?? "bare,ours").split(",");

const redis = await startRedisServer();
const admin = redisLib.createClient({ host: redis.host, port: redis.port });
const info = (section) =>
  new Promise((resolve, reject) =>
    admin.info(section, (error, text) => (error ? reject(error) : resolve(text))),
  );

/** Redis's own CPU (µs) and the commands it ran (scripts' calls included), and per command. */
async function serverStats() {
  const cpu = await info("cpu");
  const used = [...cpu.matchAll(/used_cpu_(?:user|sys):([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const stats = await info("commandstats");
  const commands = new Map();
  for (const m of stats.matchAll(/cmdstat_(\S+?):calls=(\d+),usec=(\d+)/g)) {
    commands.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return { cpuUs: used * 1e6, commands };
}

/** When the first job ran and the CPU used until then (the worker's start). */
let first;
const firstRan = () => {
  first ??= { at: performance.now(), cpu: process.cpuUsage() };
};

const session = process.env.PROFILE ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
}
let profiles = 0;

/** Times `run` (which resolves once every job ran): jobs/s and CPU µs per job, user and system. */
async function timed(start) {
  const server = await serverStats();
  const cpu = process.cpuUsage();
  const began = performance.now();
  first = undefined;
  if (session) await session.post("Profiler.start");
  await start();
  if (session) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(
      `${process.env.PROFILE}/window-${process.pid}-${++profiles}.cpuprofile`,
      JSON.stringify(profile),
    );
  }
  const ms = performance.now() - began;
  const used = process.cpuUsage(cpu);
  const after = await serverStats();
  let calls = 0;
  const top = [];
  for (const [name, { calls: n, usec }] of after.commands) {
    const was = server.commands.get(name) ?? { calls: 0, usec: 0 };
    calls += n - was.calls;
    if (n > was.calls)
      top.push(
        `${name} ${((n - was.calls) / JOBS).toFixed(2)}×${((usec - was.usec) / (n - was.calls)).toFixed(1)}µs`,
      );
  }
  const startCpu = process.cpuUsage(cpu);
  const firstCpu = first
    ? { user: first.cpu.user - cpu.user, system: first.cpu.system - cpu.system }
    : startCpu;
  return {
    startMs: (first?.at ?? began) - began,
    startCpuMs: (firstCpu.user + firstCpu.system) / 1000,
    rate: (JOBS / ms) * 1000,
    user: used.user / JOBS,
    system: used.system / JOBS,
    redisUs: (after.cpuUs - server.cpuUs) / JOBS,
    commands: calls / JOBS,
    top: top.join(", "),
  };
}

async function ours() {
  let done = 0;
  let finished = () => {};
  const noop = defineTask({
    name: "cpu.noop",
    queue: "q",
    run: () => {
      firstRan();
      if (++done === JOBS) finished();
      return null;
    },
  });
  const conveyor = await createConveyor({
    queue: createBeeQueue({
      url: redis.url,
      prefix: randomPrefix(),
      log: silentLogger,
      checkPersistence: false,
    }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [noop],
    logger: false,
    env: false,
  });
  for (let i = 0; i < JOBS; i += 1_000) {
    await conveyor.enqueueMany(
      noop,
      Array.from({ length: Math.min(1_000, JOBS - i) }, (_, j) => ({ input: { i: i + j } })),
    );
  }
  let worker;
  const result = await timed(() => {
    const all = new Promise((resolve) => {
      finished = resolve;
    });
    worker = conveyor.worker({ queues: ["q"], concurrency: CONCURRENCY });
    return all;
  });
  await worker.close();
  await conveyor.close();
  return result;
}

async function bare() {
  const settings = { prefix: randomPrefix(), redis: { host: redis.host, port: redis.port } };
  const producer = new BeeQueue("q", { ...settings, isWorker: false, getEvents: false });
  const worker = new BeeQueue("q", { ...settings, getEvents: false });
  await Promise.all([producer.ready(), worker.ready()]);
  for (let i = 0; i < JOBS; i += 1_000) {
    await producer.saveAll(
      Array.from({ length: Math.min(1_000, JOBS - i) }, (_, j) => producer.createJob({ i: i + j })),
    );
  }
  const result = await timed(() => {
    let done = 0;
    const all = new Promise((resolve) => {
      worker.on("succeeded", () => {
        if (++done === JOBS) resolve();
      });
    });
    worker.process(CONCURRENCY, async () => {
      firstRan();
      return null;
    });
    return all;
  });
  await worker.close();
  await producer.close();
  return result;
}

const results = { bare: [], ours: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of [
    ["bare", bare],
    ["ours", ours],
  ]) {
    if (!SIDES.includes(name)) continue;
    const r = await run();
    results[name].push(r);
    console.log(
      `round ${round + 1} ${name}: ${Math.round(r.rate)} jobs/s, user ${r.user.toFixed(1)} + system ${r.system.toFixed(1)} = ${(r.user + r.system).toFixed(1)} µs/job; ` +
        `first job after ${r.startMs.toFixed(1)} ms (${r.startCpuMs.toFixed(1)} ms CPU); Redis ${r.redisUs.toFixed(1)} µs/job, ${r.commands.toFixed(1)} commands/job (${r.top})`,
    );
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const name of SIDES) {
  const list = results[name];
  console.log(
    `${name} (median of ${list.length}): ${Math.round(median(list.map((r) => r.rate)))} jobs/s, ` +
      `user ${median(list.map((r) => r.user)).toFixed(1)}, system ${median(list.map((r) => r.system)).toFixed(1)}, ` +
      `total ${median(list.map((r) => r.user + r.system)).toFixed(1)} µs/job; Redis ${median(list.map((r) => r.redisUs)).toFixed(1)} µs/job`,
  );
}
admin.quit();
await redis.stop();
