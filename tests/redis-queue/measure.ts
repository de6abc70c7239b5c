// Throughput of the Redis queue through the core, side by side with the bare reference
// (LPUSH + BLMOVE + LREM on ioredis), against one ephemeral redis-server, in one run:
//
//   cd tests && TSX_TSCONFIG_PATH=redis-queue/tsconfig.json node --import tsx redis-queue/measure.ts [jobs] [rounds]
//
// No-op jobs. Prints jobs/s per system and concurrency (median of the rounds). Not a test:
// numbers on a shared machine vary; compare ratios taken in the same run.
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import { Redis } from "ioredis";

const JOBS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCIES = [10, 50];

const redis = await startRedisServer();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);

async function conveyorRound(concurrency: number): Promise<{ add: number; addOne: number; process: number }> {
  const prefix = randomPrefix();
  const noop = defineTask({ name: "measure.noop", queue: "q", run: () => null });
  const conveyor = await createConveyor({
    queue: createRedisQueue({ url: redis.url, prefix, log: silentLogger }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [noop],
    logger: false,
    env: false,
  });
  const oneByOne = 2_000;
  let started = performance.now();
  for (let i = 0; i < oneByOne; i++) await conveyor.enqueue(noop, null, { queue: "warm" });
  const addOne = rate(oneByOne, performance.now() - started);

  started = performance.now();
  for (let i = 0; i < JOBS; i += 1_000) {
    await conveyor.enqueueMany(
      noop,
      Array.from({ length: Math.min(1_000, JOBS - i) }, () => ({ input: null })),
    );
  }
  const add = rate(JOBS, performance.now() - started);

  started = performance.now();
  const worker = conveyor.worker({ queues: ["q"], concurrency });
  for (;;) {
    const counts = await conveyor.counts("q");
    if (counts.completed >= JOBS) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const processed = rate(JOBS, performance.now() - started);
  await worker.close();
  await conveyor.close();
  return { add, addOne, process: processed };
}

async function referenceRound(
  concurrency: number,
): Promise<{ add: number; addOne: number; process: number }> {
  const client = new Redis(redis.url);
  const blocking = new Redis(redis.url);
  const key = `ref:${randomPrefix()}`;
  const processing = `${key}:processing`;
  let started = performance.now();
  for (let i = 0; i < 2_000; i++) await client.lpush(`${key}:warm`, JSON.stringify({ n: i }));
  const addOne = rate(2_000, performance.now() - started);
  started = performance.now();
  for (let i = 0; i < JOBS; i += 1_000) {
    const chunk = Array.from({ length: Math.min(1_000, JOBS - i) }, (_, j) => JSON.stringify({ n: i + j }));
    await client.lpush(key, ...chunk);
  }
  const add = rate(JOBS, performance.now() - started);
  started = performance.now();
  let done = 0;
  let finished = 0;
  // The slots share one blocking connection (BLMOVE) and one for LREM, as PERF.md measured best.
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const job = await blocking.blmove(key, processing, "RIGHT", "LEFT", 0.05);
        if (job === null) return;
        JSON.parse(job);
        await client.lrem(processing, 1, job);
        if (++done === JOBS) finished = performance.now();
      }
    }),
  );
  // Timed to the last job, not to the slots' final empty waits.
  const processed = rate(done, (finished || performance.now()) - started);
  client.disconnect();
  blocking.disconnect();
  return { add, addOne, process: processed };
}

const results = new Map<string, { add: number[]; addOne: number[]; process: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const concurrency of CONCURRENCIES) {
    for (const [system, run] of [
      ["conveyor + redis queue", conveyorRound],
      ["bare reference", referenceRound],
    ] as const) {
      const label = `${system} @ ${concurrency}`;
      const r = await run(concurrency);
      const entry = results.get(label) ?? { add: [], addOne: [], process: [] };
      entry.add.push(r.add);
      entry.addOne.push(r.addOne);
      entry.process.push(r.process);
      results.set(label, entry);
    }
  }
}
console.log(`${JOBS} no-op jobs, ${ROUNDS} rounds (medians), redis-server on 127.0.0.1:${redis.port}`);
console.log(
  "| system @ concurrency | process jobs/s | bulk add jobs/s (1,000 per call) | add one by one jobs/s |",
);
console.log("| --- | --- | --- | --- |");
for (const [label, r] of results) {
  console.log(`| ${label} | ${median(r.process)} | ${median(r.add)} | ${median(r.addOne)} |`);
}
for (const concurrency of CONCURRENCIES) {
  const ours = median(results.get(`conveyor + redis queue @ ${concurrency}`)!.process);
  const ref = median(results.get(`bare reference @ ${concurrency}`)!.process);
  console.log(`ratio to the bare reference at concurrency ${concurrency}: ${(ours / ref).toFixed(2)}`);
}
await redis.stop();
