#!/usr/bin/env node
// Throughput of the disk queue through the platform: enqueue N no-op jobs (enqueueMany in chunks),
// then process them with one worker at each concurrency, completion observed through the queue's
// `completed` events. Runs the built packages: `pnpm build` first.
//
//   node adapters/disk/scripts/throughput.mjs [--jobs 20000] [--concurrency 1,16,64] [--durability normal,full] [--rounds 3]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createConveyor, defineTask } from "@conveyor/core";
import { createDiskCache, createDiskQueue } from "../dist/index.js";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "1,16,64" },
    durability: { type: "string", default: "normal,full" },
    rounds: { type: "string", default: "3" },
    chunk: { type: "string", default: "1000" },
  },
});
const jobs = Number(values.jobs);
const chunk = Number(values.chunk);
const rounds = Number(values.rounds);

// The no-op task has no rate limit, so the platform never asks this limiter anything.
const unlimited = {
  name: "unlimited",
  consume: async (_key, limit) => ({ allowed: true, remaining: limit.points, resetMs: 0, consumed: 0 }),
  peek: async (_key, limit) => ({ allowed: true, remaining: limit.points, resetMs: 0, consumed: 0 }),
  reset: async () => {},
  close: async () => {},
};

const noop = defineTask({ name: "bench.noop", queue: "bench", run: () => undefined });

async function round(durability, concurrency) {
  const folder = mkdtempSync(join(tmpdir(), "conveyor-disk-throughput-"));
  const queue = createDiskQueue({ path: folder, durability });
  const conveyor = await createConveyor({
    queue,
    cache: createDiskCache({ path: folder }),
    rateLimiter: unlimited,
    tasks: [noop],
    logger: false,
    env: false,
  });
  let completed = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const unsubscribe = await queue.subscribe((event) => {
    if (event.type === "failed") throw new Error(`job ${event.jobId} failed: ${event.error?.message}`);
    if (event.type === "completed" && ++completed === jobs) done();
  });
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < jobs; i += chunk) {
    const items = [];
    for (let j = i; j < Math.min(i + chunk, jobs); j++) items.push({ input: { n: j } });
    await conveyor.enqueueMany(noop, items);
  }
  const enqueued = performance.now();
  const worker = conveyor.worker({ concurrency });
  await finished;
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  await worker.close();
  await unsubscribe();
  await conveyor.close();
  await queue.close();
  rmSync(folder, { recursive: true, force: true });
  return {
    total: jobs / ((end - start) / 1000),
    enqueue: jobs / ((enqueued - start) / 1000),
    process: jobs / ((end - enqueued) / 1000),
    cpuUs: (used.user + used.system) / jobs,
  };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

console.log(`disk queue, ${jobs} no-op jobs per round, median of ${rounds} rounds (jobs/s)`);
console.log("| durability | concurrency | enqueue + process | enqueue | process | CPU µs per job |");
console.log("| --- | --: | --: | --: | --: | --: |");
for (const durability of values.durability.split(",")) {
  for (const concurrency of values.concurrency.split(",").map(Number)) {
    const results = [];
    for (let r = 0; r < rounds; r++) results.push(await round(durability, concurrency));
    const pick = (key) => median(results.map((result) => result[key]));
    console.log(
      `| ${durability} | ${concurrency} | ${fmt(pick("total"))} | ${fmt(pick("enqueue"))} | ${fmt(pick("process"))} | ${pick("cpuUs").toFixed(0)} |`,
    );
  }
}
