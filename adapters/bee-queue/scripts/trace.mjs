#!/usr/bin/env node
// Every Redis command a few jobs cost, Conveyor on Bee-Queue and bare Bee-Queue, through MONITOR
// on one ephemeral redis-server. After a build: node adapters/bee-queue/scripts/trace.mjs [jobs] [bare|ours]
import { createBeeQueue } from "@conveyor/bee-queue";
import { createConveyor, defineTask } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import BeeQueue from "bee-queue";
import redisLib from "redis";

const JOBS = Number(process.argv[2] ?? 3);
const SIDES = (process.argv[3] ?? "bare,ours").split(",");
const redis = await startRedisServer();
const monitor = redisLib.createClient({ host: redis.host, port: redis.port });
let lines = [];
monitor.on("monitor", (_time, args) => lines.push(args.join(" ").slice(0, 160)));
await new Promise((resolve, reject) => monitor.monitor((error) => (error ? reject(error) : resolve())));
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

async function ours() {
  let done = 0;
  let finished;
  const all = new Promise((resolve) => {
    finished = resolve;
  });
  const task = defineTask({
    name: "noop",
    queue: "q",
    run: () => {
      if (++done === JOBS) finished();
      return null;
    },
  });
  const conveyor = await createConveyor({
    queue: createBeeQueue({ url: redis.url, prefix: randomPrefix(), checkPersistence: false }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [task],
    logger: false,
    env: false,
  });
  await conveyor.counts("q");
  await settle();
  lines = [];
  await conveyor.enqueueMany(
    task,
    Array.from({ length: JOBS }, (_, i) => ({ input: i })),
  );
  const worker = conveyor.worker({ queues: ["q"], concurrency: 1 });
  await all;
  await settle();
  const seen = lines;
  lines = [];
  await worker.close();
  await conveyor.close();
  return seen;
}

async function bare() {
  const settings = { prefix: randomPrefix(), redis: { host: redis.host, port: redis.port } };
  const producer = new BeeQueue("q", { ...settings, isWorker: false, getEvents: false });
  const worker = new BeeQueue("q", { ...settings, getEvents: false });
  await Promise.all([producer.ready(), worker.ready()]);
  await settle();
  lines = [];
  let done = 0;
  const all = new Promise((resolve) => {
    worker.on("succeeded", () => {
      if (++done === JOBS) resolve();
    });
  });
  await producer.saveAll(Array.from({ length: JOBS }, (_, i) => producer.createJob(i)));
  worker.process(1, async () => null);
  await all;
  await settle();
  const seen = lines;
  lines = [];
  await worker.close();
  await producer.close();
  return seen;
}

for (const [name, run] of [
  ["bare", bare],
  ["ours", ours],
]) {
  if (!SIDES.includes(name)) continue;
  const seen = await run();
  console.log(`--- ${name}: ${seen.length} commands for ${JOBS} jobs`);
  for (const line of seen) console.log(line);
}
monitor.quit();
await redis.stop();
