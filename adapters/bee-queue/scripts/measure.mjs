#!/usr/bin/env node
// Conveyor on Bee-Queue side by side with bare Bee-Queue, against one ephemeral redis-server
// (no persistence), in one run, rounds interleaved. After `npx -y pnpm@10.34.8 build`:
//
//   node adapters/bee-queue/scripts/measure.mjs [jobs] [rounds]
//
// No-op jobs. Prints jobs/s per system (median of the rounds) and the ratio Conveyor / bare.
// Not a test: numbers on a shared machine vary; compare ratios taken in the same run.
import { createBeeQueue } from "@conveyor/bee-queue";
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import BeeQueue from "bee-queue";

const JOBS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCIES = [1, 10, 50];
const ONE_BY_ONE = 2_000;

const redis = await startRedisServer();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rate = (count, ms) => Math.round((count / ms) * 1000);

async function conveyorRound(concurrency) {
  const prefix = randomPrefix();
  let done = 0;
  let finished = () => {};
  const noop = defineTask({
    name: "measure.noop",
    queue: "q",
    run: () => {
      done++;
      if (done === JOBS) finished();
      return null;
    },
  });
  const conveyor = await createConveyor({
    queue: createBeeQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [noop],
    logger: false,
    env: false,
  });
  let started = performance.now();
  for (let i = 0; i < ONE_BY_ONE; i++) await conveyor.enqueue(noop, null, { queue: "warm" });
  const addOne = rate(ONE_BY_ONE, performance.now() - started);
  started = performance.now();
  for (let i = 0; i < JOBS; i += 1_000) {
    await conveyor.enqueueMany(
      noop,
      Array.from({ length: Math.min(1_000, JOBS - i) }, () => ({ input: null })),
    );
  }
  const add = rate(JOBS, performance.now() - started);
  const all = new Promise((resolve) => {
    finished = resolve;
  });
  started = performance.now();
  const worker = conveyor.worker({ queues: ["q"], concurrency });
  await all;
  const processed = rate(JOBS, performance.now() - started);
  await worker.close();
  await conveyor.close();
  return { addOne, add, process: processed };
}

async function bareRound(concurrency) {
  const prefix = randomPrefix();
  const settings = { prefix, redis: { host: redis.host, port: redis.port } };
  const producer = new BeeQueue("q", { ...settings, isWorker: false, getEvents: false });
  const warm = new BeeQueue("warm", { ...settings, isWorker: false, getEvents: false });
  const worker = new BeeQueue("q", { ...settings, getEvents: false });
  await Promise.all([producer.ready(), warm.ready(), worker.ready()]);
  let started = performance.now();
  for (let i = 0; i < ONE_BY_ONE; i++) await warm.createJob(null).save();
  const addOne = rate(ONE_BY_ONE, performance.now() - started);
  started = performance.now();
  for (let i = 0; i < JOBS; i += 1_000) {
    await producer.saveAll(Array.from({ length: Math.min(1_000, JOBS - i) }, () => producer.createJob(null)));
  }
  const add = rate(JOBS, performance.now() - started);
  let done = 0;
  const all = new Promise((resolve) => {
    worker.on("succeeded", () => {
      done++;
      if (done === JOBS) resolve();
    });
  });
  started = performance.now();
  worker.process(concurrency, async () => null);
  await all;
  const processed = rate(JOBS, performance.now() - started);
  await worker.close();
  await producer.close();
  await warm.close();
  return { addOne, add, process: processed };
}

const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const concurrency of CONCURRENCIES) {
    for (const [name, run] of [
      ["bare", bareRound],
      ["conveyor", conveyorRound],
    ]) {
      const key = `${name} ${concurrency}`;
      results[key] = [...(results[key] ?? []), await run(concurrency)];
    }
  }
}
const pick = (key, field) => median(results[key].map((r) => r[field]));
console.log(`jobs/s, median of ${ROUNDS} rounds of ${JOBS} no-op jobs (add one by one: ${ONE_BY_ONE})`);
console.log(
  "| concurrency | process bare | process conveyor | ratio | add bulk bare | add bulk conveyor | ratio | add one bare | add one conveyor | ratio |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const c of CONCURRENCIES) {
  const row = (field) => {
    const bare = pick(`bare ${c}`, field);
    const ours = pick(`conveyor ${c}`, field);
    return `${bare} | ${ours} | ${(ours / bare).toFixed(2)}×`;
  };
  console.log(`| ${c} | ${row("process")} | ${row("add")} | ${row("addOne")} |`);
}
await redis.stop();
