// Throughput of @conveyor/bullmq through the core, side by side with bare BullMQ, against one
// ephemeral redis-server, in one run:
//
//   cd tests && TSX_TSCONFIG_PATH=bullmq/tsconfig.json node --import tsx bullmq/measure.ts [jobs] [rounds]
//
// No-op jobs: add in bulk (chunks of 1,000), add one by one (awaited), then process at concurrency
// 1, 10 and 50. Prints jobs/s (median of the rounds) and the ratio to bare BullMQ. Not a test:
// numbers on a shared machine vary; compare ratios taken in the same run.
import { createBullmqQueue } from "@conveyor/bullmq";
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import { Queue, Worker } from "bullmq";

const JOBS = Number(process.argv[2] ?? 5_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const ONE_BY_ONE = Math.min(JOBS, 1_000);
const CONCURRENCIES = [1, 10, 50];

const redis = await startRedisServer();
const connection = { host: redis.host, port: redis.port };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
const inputs = Array.from({ length: JOBS }, (_, i) => ({ i }));

interface Round {
  bulk: number;
  one: number;
  process: number;
}

async function bareRound(concurrency: number): Promise<Round> {
  const name = randomPrefix();
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  let start = performance.now();
  for (let i = 0; i < ONE_BY_ONE; i++) await queue.add("noop", inputs[i]);
  const one = rate(ONE_BY_ONE, performance.now() - start);
  await queue.obliterate({ force: true });
  start = performance.now();
  for (let from = 0; from < JOBS; from += 1_000) {
    await queue.addBulk(inputs.slice(from, from + 1_000).map((data) => ({ name: "noop", data })));
  }
  const bulk = rate(JOBS, performance.now() - start);
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  start = performance.now();
  const worker = new Worker(name, async () => null, {
    connection: { ...connection, maxRetriesPerRequest: null },
    concurrency,
  });
  worker.on("completed", () => {
    if (++done === JOBS) finish();
  });
  await finished;
  const processRate = rate(JOBS, performance.now() - start);
  await worker.close();
  await queue.close();
  return { bulk, one, process: processRate };
}

async function conveyorRound(concurrency: number): Promise<Round> {
  const prefix = randomPrefix();
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const noop = defineTask({
    name: "measure.noop",
    queue: "q",
    run: () => {
      if (++done === JOBS) finish();
      return null;
    },
  });
  const conveyor = await createConveyor({
    queue: createBullmqQueue({
      url: `bullmq+${redis.url}`,
      prefix,
      log: silentLogger,
      checkPersistence: false,
    }),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    tasks: [noop],
    logger: false,
    env: false,
  });
  let start = performance.now();
  for (let i = 0; i < ONE_BY_ONE; i++) await conveyor.enqueue(noop, inputs[i], { queue: "one" });
  const one = rate(ONE_BY_ONE, performance.now() - start);
  start = performance.now();
  for (let from = 0; from < JOBS; from += 1_000) {
    await conveyor.enqueueMany(
      noop,
      inputs.slice(from, from + 1_000).map((input) => ({ input })),
    );
  }
  const bulk = rate(JOBS, performance.now() - start);
  start = performance.now();
  const worker = conveyor.worker({ queues: ["q"], concurrency });
  await finished;
  const processRate = rate(JOBS, performance.now() - start);
  await worker.close();
  await conveyor.close();
  return { bulk, one, process: processRate };
}

try {
  console.log(
    `${JOBS} no-op jobs per round, ${ROUNDS} rounds, medians (jobs/s); one by one: ${ONE_BY_ONE} jobs`,
  );
  console.log("measure               | BullMQ | @conveyor/bullmq | ratio");
  const rows: [string, number[], number[]][] = [];
  const results = new Map<number, { bare: Round[]; conveyor: Round[] }>();
  for (const concurrency of CONCURRENCIES) results.set(concurrency, { bare: [], conveyor: [] });
  for (let round = 0; round < ROUNDS; round++) {
    for (const concurrency of CONCURRENCIES) {
      const entry = results.get(concurrency)!;
      // Interleaved, so drift of the machine hits both alike.
      entry.bare.push(await bareRound(concurrency));
      entry.conveyor.push(await conveyorRound(concurrency));
    }
  }
  const all = [...results.values()];
  rows.push([
    "add one by one",
    all.flatMap((r) => r.bare.map((x) => x.one)),
    all.flatMap((r) => r.conveyor.map((x) => x.one)),
  ]);
  rows.push([
    "add bulk (1,000)",
    all.flatMap((r) => r.bare.map((x) => x.bulk)),
    all.flatMap((r) => r.conveyor.map((x) => x.bulk)),
  ]);
  for (const [concurrency, r] of results) {
    rows.push([
      `process, concurrency ${concurrency}`,
      r.bare.map((x) => x.process),
      r.conveyor.map((x) => x.process),
    ]);
  }
  for (const [label, bare, ours] of rows) {
    const b = median(bare);
    const c = median(ours);
    console.log(
      `${label.padEnd(21)} | ${String(b).padStart(6)} | ${String(c).padStart(16)} | ${(c / b).toFixed(2)}×`,
    );
  }
} finally {
  await redis.stop();
}
