import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Redis } from "ioredis";
import { type CallPair, callPairs, callsPerSecond } from "./adapters-kv.js";
import { beeQueuePair, bullmqPair, type QueuePair, type QueueSide } from "./adapters-queues.js";
import { type RedisJobInput, startBenchRedis } from "./redis-system.js";
import {
  canCollectGarbage,
  formatMs,
  formatRate,
  markdownTable,
  median,
  percentile,
  sourceRevision,
} from "./stats.js";

const USAGE = `Usage: pnpm bench:adapters -- [options]

  --quick                  a smoke run: 1 round, few jobs, writes no file unless --out is given
  --jobs N                 jobs per throughput round (default 5000)
  --one-by-one N           jobs added one by one, awaited, per round (default 1000)
  --rounds N               rounds; medians are reported (default 3)
  --concurrency LIST       worker concurrencies (default 1,10,50)
  --chunk N                jobs per bulk add call (default 1000)
  --rate N                 arrival rate of the latency rounds, jobs/s (default 200)
  --latency-seconds N      length of a latency round (default 5)
  --latency-concurrency N  worker concurrency of the latency rounds (default 10)
  --ops N                  cache and limiter calls per measurement (default 50000)
  --in-flight N            cache and limiter calls in flight (default 50)
  --only LIST              bullmq,bee-queue,cache-get,cache-set,limiter or a subset (default all)
  --sides LIST             bare,ours or one of them, e.g. to profile one side (default both)
  --out FILE               where to write the markdown (default bench/results/adapters.md)
  --print-only             print the tables, write no file
  -h, --help               this text`;

const QUEUE_PAIRS: readonly QueuePair[] = [bullmqPair, beeQueuePair];

function readOptions() {
  // `pnpm bench:adapters -- --quick` passes the `--` on; it is not an end of the options here.
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      jobs: { type: "string" },
      "one-by-one": { type: "string" },
      rounds: { type: "string" },
      concurrency: { type: "string", default: "1,10,50" },
      chunk: { type: "string", default: "1000" },
      rate: { type: "string", default: "200" },
      "latency-seconds": { type: "string" },
      "latency-concurrency": { type: "string", default: "10" },
      ops: { type: "string" },
      "in-flight": { type: "string", default: "50" },
      only: { type: "string" },
      sides: { type: "string", default: "bare,ours" },
      out: { type: "string" },
      "print-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const whole = (name: string, raw: string | undefined, normal: number, smoke: number) => {
    if (raw === undefined) return quick ? smoke : normal;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a whole number ≥ 1, got "${raw}"`);
    return n;
  };
  const known = [...QUEUE_PAIRS.map((p) => p.key), ...callPairs.map((p) => p.key)];
  const only = (values.only ?? known.join(",")).split(",").map((s) => s.trim());
  for (const name of only) {
    if (!known.includes(name)) throw new Error(`--only: unknown "${name}"; use ${known.join(", ")}`);
  }
  const sides = values.sides.split(",").map((s) => s.trim());
  for (const side of sides) {
    if (side !== "bare" && side !== "ours") throw new Error(`--sides: unknown "${side}"; use bare, ours`);
  }
  const defaultOut = fileURLToPath(new URL("../results/adapters.md", import.meta.url));
  return {
    quick,
    jobs: whole("jobs", values.jobs, 5_000, 1_000),
    oneByOne: whole("one-by-one", values["one-by-one"], 1_000, 200),
    rounds: whole("rounds", values.rounds, 3, 1),
    concurrencies: values.concurrency.split(",").map((c) => whole("concurrency", c.trim(), 0, 0)),
    chunk: whole("chunk", values.chunk, 0, 0),
    rate: whole("rate", values.rate, 0, 0),
    latencySeconds: whole("latency-seconds", values["latency-seconds"], 5, 2),
    latencyConcurrency: whole("latency-concurrency", values["latency-concurrency"], 0, 0),
    ops: whole("ops", values.ops, 50_000, 5_000),
    inFlight: whole("in-flight", values["in-flight"], 0, 0),
    queuePairs: QUEUE_PAIRS.filter((p) => only.includes(p.key)),
    callPairs: callPairs.filter((p) => only.includes(p.key)),
    sides: sides as ("bare" | "ours")[],
    out: values["print-only"] ? undefined : (values.out ?? (quick ? undefined : defaultOut)),
  };
}
type Options = ReturnType<typeof readOptions>;

/** Calls Redis has run since it started, every command (scripts' own calls included). */
async function commandCount(admin: Redis): Promise<number> {
  const info = await admin.info("commandstats");
  let calls = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

/** Samples per measured quantity, one per round, keyed `<pair>/<side>/<metric>`. */
class Samples {
  private readonly map = new Map<string, number[]>();
  add(key: string, value: number): void {
    const list = this.map.get(key);
    if (list) list.push(value);
    else this.map.set(key, [value]);
  }
  get(key: string): number[] {
    return this.map.get(key) ?? [];
  }
  median(key: string): number {
    return median(this.get(key));
  }
  /** The median of per-round ratios ours / bare. */
  ratio(pair: string, metric: string): number {
    const ours = this.get(`${pair}/ours/${metric}`);
    const bare = this.get(`${pair}/bare/${metric}`);
    if (ours.length === 0 || ours.length !== bare.length) return Number.NaN;
    return median(ours.map((value, i) => value / bare[i]!));
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  if (!canCollectGarbage()) console.error("bench: run with node --expose-gc (pnpm bench:adapters does).");
  const bench = await startBenchRedis();
  const { admin, round, reset } = bench;
  const redisVersion = bench.version;
  const latencyJobs = options.rate * options.latencySeconds;
  const inputs: RedisJobInput[] = Array.from(
    { length: Math.max(options.jobs, options.oneByOne, latencyJobs) },
    (_, i) => ({ i }),
  );
  const samples = new Samples();
  const began = performance.now();
  const log = (text: string) => console.error(text);

  const measureQueue = async (pair: QueuePair, side: "bare" | "ours", system: QueueSide, r: number) => {
    const at = `${pair.key}/${side}`;
    await reset();
    const oneMs = await system.addOneByOne(round(pair.key), inputs.slice(0, options.oneByOne));
    samples.add(`${at}/one`, (options.oneByOne / oneMs) * 1000);
    for (const concurrency of options.concurrencies) {
      await reset();
      const before = await commandCount(admin);
      const run = await system.throughput(round(pair.key), {
        inputs: inputs.slice(0, options.jobs),
        chunk: options.chunk,
        concurrency,
      });
      samples.add(`${at}/commands@${concurrency}`, ((await commandCount(admin)) - before) / options.jobs);
      samples.add(`${at}/bulk`, (options.jobs / run.addMs) * 1000);
      samples.add(`${at}/process@${concurrency}`, (options.jobs / run.processMs) * 1000);
      samples.add(`${at}/cpu@${concurrency}`, run.processCpuUs / options.jobs);
    }
    await reset();
    const run = await system.latency(round(pair.key), {
      inputs: inputs.slice(0, latencyJobs),
      concurrency: options.latencyConcurrency,
      ratePerSecond: options.rate,
    });
    const latencies = new Float64Array(latencyJobs);
    for (let i = 0; i < latencyJobs; i++) latencies[i] = run.ended[i]! - run.started[i]!;
    latencies.sort();
    samples.add(`${at}/p50`, percentile(latencies, 50));
    samples.add(`${at}/p99`, percentile(latencies, 99));
    const c = options.concurrencies;
    log(
      `round ${r + 1}/${options.rounds} ${system.label}: one by one ${formatRate(samples.get(`${at}/one`).at(-1)!)}/s, ` +
        `bulk ${formatRate(samples.get(`${at}/bulk`).at(-1)!)}/s, ` +
        `process ${c.map((n) => formatRate(samples.get(`${at}/process@${n}`).at(-1)!)).join(" / ")}/s, ` +
        `p50/p99 ${formatMs(samples.get(`${at}/p50`).at(-1)!)} / ${formatMs(samples.get(`${at}/p99`).at(-1)!)} ms`,
    );
  };

  const measureCalls = async (pair: CallPair, side: "bare" | "ours", r: number) => {
    await reset();
    const target = round(pair.key);
    const opened = await pair[side].open(target.url, `${target.name}:`);
    try {
      const rate = await callsPerSecond(options.ops, options.inFlight, opened.call);
      samples.add(`${pair.key}/${side}/ops`, rate);
      log(`round ${r + 1}/${options.rounds} ${pair.scenario}, ${pair[side].label}: ${formatRate(rate)}/s`);
    } finally {
      await opened.close();
    }
  };

  try {
    // Unmeasured warm-up of every side, so the JIT has settled before the first round.
    log("warm-up");
    for (const pair of options.queuePairs) {
      for (const side of options.sides) {
        const system = pair[side];
        await system.addOneByOne(round("warmup"), inputs.slice(0, 200));
        await system.throughput(round("warmup"), {
          inputs: inputs.slice(0, Math.min(2_000, options.jobs)),
          chunk: options.chunk,
          concurrency: 10,
        });
        await reset();
      }
    }
    for (const pair of options.callPairs) {
      for (const side of options.sides) {
        const opened = await pair[side].open(round("warmup").url, "bench:warmup:");
        await callsPerSecond(Math.min(5_000, options.ops), options.inFlight, opened.call);
        await opened.close();
        await reset();
      }
    }

    for (let r = 0; r < options.rounds; r++) {
      // The side that goes first alternates, so slow drift of a shared machine favours nobody.
      const sides = r % 2 === 0 ? options.sides : [...options.sides].reverse();
      for (const pair of options.queuePairs) {
        for (const side of sides) await measureQueue(pair, side, pair[side], r);
      }
      for (const pair of options.callPairs) {
        for (const side of sides) await measureCalls(pair, side, r);
      }
    }
    const text = report(options, samples, (performance.now() - began) / 1000, redisVersion);
    console.log(`\n${text}`);
    if (options.out) {
      mkdirSync(dirname(options.out), { recursive: true });
      writeFileSync(options.out, text);
      log(`bench: wrote ${options.out}`);
    }
  } finally {
    await bench.stop();
  }
}

const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");

function report(options: Options, samples: Samples, elapsedS: number, redisVersion: string): string {
  const rows: string[][] = [];
  const aims: string[] = [];
  const row = (
    scenario: string,
    pair: string,
    metric: string,
    format: (n: number) => string,
    aim?: { atLeast?: number; atMost?: number },
  ) => {
    const ratio = samples.ratio(pair, metric);
    let verdict = "";
    if (aim) {
      const met =
        Number.isFinite(ratio) &&
        (aim.atLeast !== undefined ? ratio >= aim.atLeast : ratio <= (aim.atMost ?? Number.NaN));
      const target = aim.atLeast !== undefined ? `≥ ${aim.atLeast}×` : `≤ ${aim.atMost}×`;
      verdict = `${target} ${met ? "met" : "**not met**"}`;
      aims.push(`- ${scenario}: ${target} — ${met ? "**met**" : "**not met**"} (${x(ratio)})`);
    }
    rows.push([
      scenario,
      format(samples.median(`${pair}/bare/${metric}`)),
      format(samples.median(`${pair}/ours/${metric}`)),
      x(ratio),
      verdict,
    ]);
  };
  for (const pair of options.queuePairs) {
    const name = pair.bare.label;
    row(`${name}: add one by one, jobs/s`, pair.key, "one", formatRate);
    row(`${name}: add bulk (${formatRate(options.chunk)} per call), jobs/s`, pair.key, "bulk", formatRate);
    for (const c of options.concurrencies) {
      row(`${name}: process, concurrency ${c}, jobs/s`, pair.key, `process@${c}`, formatRate, {
        atLeast: 0.9,
      });
    }
    row(`${name}: latency p50, ms`, pair.key, "p50", formatMs);
    row(`${name}: latency p99, ms`, pair.key, "p99", formatMs, { atMost: 1.2 });
  }
  for (const pair of options.callPairs) {
    const aim = pair.key.startsWith("cache") ? { atLeast: 0.8 } : undefined;
    row(`${pair.scenario}, ops/s`, pair.key, "ops", formatRate, aim);
  }
  const header = ["scenario", "bare", "Conveyor", "ratio", "aim"];

  const cpuHeader = [
    "queue, concurrency",
    "bare Node µs/job",
    "Conveyor Node µs/job",
    "bare Redis commands/job",
    "Conveyor Redis commands/job",
  ];
  const cpuRows = options.queuePairs.flatMap((pair) =>
    options.concurrencies.map((c) => [
      `${pair.bare.label}, ${c}`,
      samples.median(`${pair.key}/bare/cpu@${c}`).toFixed(1),
      samples.median(`${pair.key}/ours/cpu@${c}`).toFixed(1),
      samples.median(`${pair.key}/bare/commands@${c}`).toFixed(1),
      samples.median(`${pair.key}/ours/commands@${c}`).toFixed(1),
    ]),
  );

  const cpu = cpus();
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const align = (n: number) => ["left" as const, ...Array.from({ length: n - 1 }, () => "right" as const)];
  return [
    "# Benchmark: Redis adapters against the bare libraries",
    "",
    `Run on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ` +
      `${process.platform}/${process.arch}, redis-server ${redisVersion} (one ephemeral server, no persistence); ` +
      `${elapsedS.toFixed(0)} s in all; sources at ${sourceRevision(["packages/core/src", "adapters/bullmq/src", "adapters/bee-queue/src", "adapters/redis/src"])}.`,
    `Command: \`pnpm bench:adapters${args.length > 0 ? ` -- ${args.join(" ")}` : ""}\``,
    "",
    "**bare** is the library with its defaults (BullMQ `Queue`/`Worker`, Bee-Queue, ioredis `GET`/`SET` with JSON " +
      "values, rate-limiter-flexible's `RateLimiterRedis` on ioredis); **Conveyor** is the whole platform on the " +
      "adapter (`createConveyor`, a no-op task, `enqueue`/`enqueueMany`, `conveyor.worker`) or `@conveyor/redis`'s " +
      "cache and limiter. Ratio = Conveyor / bare (for latency lower is better), the median of per-round ratios.",
    `Queues: ${formatRate(options.oneByOne)} jobs added one by one (awaited); ${formatRate(options.jobs)} no-op jobs ` +
      `added in bulk with no worker, then processed, timed until Redis holds every completion; latency: ` +
      `${formatRate(options.rate)} jobs/s for ${options.latencySeconds} s, worker concurrency ${options.latencyConcurrency}, ` +
      "add call → completion seen through the library's cross-process events. Cache and limiter: " +
      `${formatRate(options.ops)} calls, ${options.inFlight} in flight, over 10,000 keys. ` +
      `${options.rounds} interleaved round(s). How it is measured: docs/guide/benchmarks.md.`,
    "",
    ...markdownTable(header, rows, align(header.length)),
    "",
    "Per processed job (add + process), medians: this process's CPU while processing, and every command Redis ran (`INFO commandstats`, calls made inside scripts included):",
    "",
    ...markdownTable(cpuHeader, cpuRows, align(cpuHeader.length)),
    "",
    "Aims:",
    "",
    ...aims,
    "",
  ].join("\n");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
