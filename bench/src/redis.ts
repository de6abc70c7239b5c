import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Redis } from "ioredis";
import { type RedisBenchSystem, type RedisJobInput, startBenchRedis } from "./redis-system.js";
import {
  canCollectGarbage,
  formatMs,
  formatRate,
  markdownTable,
  median,
  percentile,
  sourceRevision,
} from "./stats.js";

const USAGE = `Usage: pnpm bench:redis -- [options]

  --jobs N             jobs per throughput round (default 20000)
  --rounds N           rounds per scenario; medians are reported (default 3)
  --concurrency LIST   worker concurrencies of the throughput rounds (default 10,50)
  --chunk N            jobs per bulk add call (default 1000)
  --rates LIST         arrival rates of the latency rounds, jobs/s (default 200,2000)
  --latency-seconds N  length of a latency round (default 5)
  --latency-concurrency N  worker concurrency of the latency rounds (default 10)
  --warmup N           jobs of the unmeasured warm-up round per system (default 5000)
  --systems LIST       conveyor,bullmq,bee-queue,reference or a subset (default all)
  --out FILE           where to write the markdown results (default bench/results/redis.md)
  --print-only         print the tables, write no file
  -h, --help           this text`;

// Loaded on demand, so a subset runs even when a library is missing.
const SYSTEMS: Record<string, () => Promise<RedisBenchSystem>> = {
  conveyor: async () => (await import("./redis-conveyor.js")).conveyorRedisSystem,
  bullmq: async () => (await import("./redis-bullmq.js")).bullmqSystem,
  "bee-queue": async () => (await import("./redis-bee-queue.js")).beeQueueSystem,
  reference: async () => (await import("./redis-reference.js")).referenceSystem,
};

const list = (name: string, value: string) =>
  value.split(",").map((item) => {
    const n = Number(item.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes whole numbers ≥ 1, got "${item}"`);
    return n;
  });

async function readOptions() {
  // `pnpm bench:redis -- --jobs …` passes the `--` on (pnpm 10): skip it.
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv[0] === "--" ? argv.slice(1) : argv,
    options: {
      jobs: { type: "string", default: "20000" },
      rounds: { type: "string", default: "3" },
      concurrency: { type: "string", default: "10,50" },
      chunk: { type: "string", default: "1000" },
      rates: { type: "string", default: "200,2000" },
      "latency-seconds": { type: "string", default: "5" },
      "latency-concurrency": { type: "string", default: "10" },
      warmup: { type: "string", default: "5000" },
      systems: { type: "string", default: Object.keys(SYSTEMS).join(",") },
      out: { type: "string", default: fileURLToPath(new URL("../results/redis.md", import.meta.url)) },
      "print-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const systems: { key: string; system: RedisBenchSystem }[] = [];
  for (const name of values.systems.split(",").map((s) => s.trim())) {
    const load = SYSTEMS[name];
    if (!load) throw new Error(`--systems: unknown system "${name}"; use ${Object.keys(SYSTEMS).join(", ")}`);
    systems.push({ key: name, system: await load() });
  }
  const warmup = Number(values.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be a whole number ≥ 0`);
  return {
    jobs: list("jobs", values.jobs)[0]!,
    rounds: list("rounds", values.rounds)[0]!,
    concurrencies: list("concurrency", values.concurrency),
    chunk: list("chunk", values.chunk)[0]!,
    rates: list("rates", values.rates),
    latencySeconds: list("latency-seconds", values["latency-seconds"])[0]!,
    latencyConcurrency: list("latency-concurrency", values["latency-concurrency"])[0]!,
    warmup,
    systems,
    out: values["print-only"] ? undefined : values.out,
  };
}

/** used_cpu_user + used_cpu_sys of the server, in µs. */
async function serverCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info("cpu");
  const read = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (read("used_cpu_user") + read("used_cpu_sys")) * 1e6;
}

interface Throughput {
  add: number[];
  process: number[];
  nodeCpuUs: number[];
  redisCpuUs: number[];
}
interface Latency {
  p50: number[];
  p99: number[];
}

async function main(): Promise<void> {
  const options = await readOptions();
  if (!canCollectGarbage()) console.error("bench: run with node --expose-gc (pnpm bench:redis does).");
  const bench = await startBenchRedis();
  const { admin, round, reset } = bench;
  const redisVersion = bench.version;
  const inputs: RedisJobInput[] = Array.from(
    {
      length: Math.max(options.jobs, options.warmup, ...options.rates.map((r) => r * options.latencySeconds)),
    },
    (_, i) => ({ i }),
  );
  const began = performance.now();

  try {
    for (const { system } of options.systems) {
      if (options.warmup === 0) break;
      console.error(`warm-up: ${system.label}`);
      await system.throughput(round("warmup"), {
        inputs: inputs.slice(0, options.warmup),
        chunk: options.chunk,
        concurrency: 10,
      });
      await system.latency(round("warmup"), {
        inputs: inputs.slice(0, 500),
        concurrency: options.latencyConcurrency,
        ratePerSecond: 2_000,
      });
      await reset();
    }

    const throughput = new Map<string, Throughput>();
    const latency = new Map<string, Latency>();
    const at = <T>(map: Map<string, T>, key: string, make: () => T) => {
      let value = map.get(key);
      if (value === undefined) {
        value = make();
        map.set(key, value);
      }
      return value;
    };
    for (let r = 0; r < options.rounds; r++) {
      // Alternate the order so slow drift of a shared machine favours nobody.
      const order = r % 2 === 0 ? options.systems : [...options.systems].reverse();
      for (const concurrency of options.concurrencies) {
        for (const { key, system } of order) {
          await reset();
          const cpuBefore = await serverCpuUs(admin);
          const run = await system.throughput(round(key), {
            inputs: inputs.slice(0, options.jobs),
            chunk: options.chunk,
            concurrency,
          });
          const redisCpuUs = (await serverCpuUs(admin)) - cpuBefore;
          const s = at(throughput, `${key}@${concurrency}`, () => ({
            add: [],
            process: [],
            nodeCpuUs: [],
            redisCpuUs: [],
          }));
          s.add.push((options.jobs / run.addMs) * 1000);
          s.process.push((options.jobs / run.processMs) * 1000);
          s.nodeCpuUs.push(run.processCpuUs / options.jobs);
          s.redisCpuUs.push(redisCpuUs / options.jobs);
          console.error(
            `round ${r + 1}/${options.rounds} c=${concurrency} ${system.label}: process ${formatRate(s.process.at(-1)!)}/s, bulk add ${formatRate(s.add.at(-1)!)}/s`,
          );
        }
      }
      for (const rate of options.rates) {
        for (const { key, system } of order) {
          await reset();
          const n = rate * options.latencySeconds;
          const run = await system.latency(round(key), {
            inputs: inputs.slice(0, n),
            concurrency: options.latencyConcurrency,
            ratePerSecond: rate,
          });
          const latencies = new Float64Array(n);
          for (let i = 0; i < n; i++) latencies[i] = run.ended[i]! - run.started[i]!;
          latencies.sort();
          const s = at(latency, `${key}@${rate}`, () => ({ p50: [], p99: [] }));
          s.p50.push(percentile(latencies, 50));
          s.p99.push(percentile(latencies, 99));
          console.error(
            `round ${r + 1}/${options.rounds} ${rate}/s ${system.label}: p50 ${formatMs(s.p50.at(-1)!)} ms, p99 ${formatMs(s.p99.at(-1)!)} ms`,
          );
        }
      }
    }
    const elapsedS = (performance.now() - began) / 1000;
    console.log(`\n${report(options, throughput, latency, elapsedS, redisVersion)}`);
    if (options.out) {
      mkdirSync(dirname(options.out), { recursive: true });
      writeFileSync(options.out, report(options, throughput, latency, elapsedS, redisVersion));
      console.error(`bench: wrote ${options.out}`);
    }
  } finally {
    await bench.stop();
  }
}

type Options = Awaited<ReturnType<typeof readOptions>>;

function report(
  options: Options,
  throughput: Map<string, Throughput>,
  latency: Map<string, Latency>,
  elapsedS: number,
  redisVersion: string,
): string {
  const has = (key: string) => options.systems.some((s) => s.key === key);
  const ours = "conveyor";
  const others = options.systems.filter((s) => s.key !== ours);
  const ratioOf = (a: number[] | undefined, b: number[] | undefined) => {
    // Per round, then the median: both numbers of a ratio come from the same round.
    if (!a || !b || a.length === 0) return Number.NaN;
    return median(a.map((value, i) => value / b[i]!));
  };
  const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");
  const pick = (key: string, c: number, field: keyof Throughput) => throughput.get(`${key}@${c}`)?.[field];

  const throughputHeader = [
    "scenario",
    ...options.systems.map((s) => `${s.system.label} jobs/s`),
    ...(has(ours) ? others.map((s) => `× ${s.system.label}`) : []),
  ];
  const rows: string[][] = [];
  for (const c of options.concurrencies) {
    rows.push([
      `process, concurrency ${c}`,
      ...options.systems.map((s) => formatRate(median(pick(s.key, c, "process") ?? []))),
      ...(has(ours)
        ? others.map((s) => x(ratioOf(pick(ours, c, "process"), pick(s.key, c, "process"))))
        : []),
    ]);
  }
  const allAdds = (key: string) => options.concurrencies.flatMap((c) => pick(key, c, "add") ?? []);
  rows.push([
    `bulk add, ${formatRate(options.chunk)} per call`,
    ...options.systems.map((s) => formatRate(median(allAdds(s.key)))),
    ...(has(ours) ? others.map((s) => x(ratioOf(allAdds(ours), allAdds(s.key)))) : []),
  ]);
  const align = (n: number) => ["left" as const, ...Array.from({ length: n - 1 }, () => "right" as const)];

  const latencyHeader = [
    "arrival rate",
    ...options.systems.map((s) => `${s.system.label} p50 / p99 ms`),
    ...(has(ours) ? others.map((s) => `p99 × ${s.system.label}`) : []),
  ];
  const latencyRows = options.rates.map((rate) => {
    const l = (key: string) => latency.get(`${key}@${rate}`);
    return [
      `${formatRate(rate)} jobs/s`,
      ...options.systems.map((s) => {
        const v = l(s.key);
        return v ? `${formatMs(median(v.p50))} / ${formatMs(median(v.p99))}` : "–";
      }),
      ...(has(ours) ? others.map((s) => x(ratioOf(l(ours)?.p99, l(s.key)?.p99))) : []),
    ];
  });

  const cpuHeader = [
    "scenario",
    ...options.systems.flatMap((s) => [`${s.system.label} Node`, `${s.system.label} Redis`]),
  ];
  const cpuRows = options.concurrencies.map((c) => [
    `concurrency ${c}`,
    ...options.systems.flatMap((s) => [
      median(pick(s.key, c, "nodeCpuUs") ?? []).toFixed(1),
      median(pick(s.key, c, "redisCpuUs") ?? []).toFixed(1),
    ]),
  ]);

  const aims: string[] = [];
  const aim = (text: string, value: number, target: number, atMost = false) => {
    const met = Number.isFinite(value) && (atMost ? value <= target : value >= target);
    aims.push(`- ${text}: ${met ? "**met**" : "**not met**"} (${x(value)})`);
  };
  if (has(ours)) {
    for (const c of options.concurrencies) {
      if (has("bullmq"))
        aim(
          `processing ≥ 2× BullMQ at concurrency ${c}`,
          ratioOf(pick(ours, c, "process"), pick("bullmq", c, "process")),
          2,
        );
      if (has("bee-queue"))
        aim(
          `processing ≥ 1.5× Bee-Queue at concurrency ${c}`,
          ratioOf(pick(ours, c, "process"), pick("bee-queue", c, "process")),
          1.5,
        );
      if (has("reference"))
        aim(
          `processing ≥ 0.7× the reference at concurrency ${c}`,
          ratioOf(pick(ours, c, "process"), pick("reference", c, "process")),
          0.7,
        );
    }
    if (has("bee-queue"))
      aim("bulk add ≥ Bee-Queue's saveAll", ratioOf(allAdds(ours), allAdds("bee-queue")), 1);
    if (has("bullmq")) {
      for (const rate of options.rates) {
        aim(
          `p99 latency at ${formatRate(rate)} jobs/s ≤ 0.6× BullMQ's`,
          ratioOf(latency.get(`${ours}@${rate}`)?.p99, latency.get(`bullmq@${rate}`)?.p99),
          0.6,
          true,
        );
      }
    }
  }

  const cpu = cpus();
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
  return [
    "# Benchmark: queues on Redis",
    "",
    `Run on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ` +
      `${process.platform}/${process.arch}, redis-server ${redisVersion} (one ephemeral server, no persistence); ${elapsedS.toFixed(0)} s in all; sources at ${sourceRevision(["packages/core/src", "adapters/redis/src"])}.`,
    `Command: \`pnpm bench:redis${args.length > 0 ? ` -- ${args.join(" ")}` : ""}\``,
    "",
    `Systems: **Conveyor redis** is the whole platform (core runtime, \`createRedisQueue\`, a no-op task); ` +
      "**BullMQ** and **Bee-Queue** are the bare libraries with their defaults; **reference** is LPUSH + BLMOVE + LREM " +
      "on bare ioredis, with no guarantees, the ceiling. Everything runs in one Node process against one redis-server.",
    `${formatRate(options.jobs)} no-op jobs per throughput round: bulk add in chunks of ${formatRate(options.chunk)} with no worker, ` +
      "then process the backlog, timed until Redis has every completion stored. Latency: jobs added one by one at a " +
      `fixed rate for ${options.latencySeconds} s with a worker of concurrency ${options.latencyConcurrency} running, add call → ` +
      "completion as the producer sees it, through each library's own cross-process events (BullMQ's QueueEvents, " +
      "Bee-Queue's `job succeeded` pub/sub, Conveyor's event stream; the reference has none: its LREM reply). " +
      `${options.rounds} interleaved round(s), medians; ratios are the median of per-round ratios. How it is measured: docs/guide/benchmarks.md.`,
    "",
    ...markdownTable(throughputHeader, rows, align(throughputHeader.length)),
    "",
    "Enqueue → completion latency:",
    "",
    ...markdownTable(latencyHeader, latencyRows, align(latencyHeader.length)),
    "",
    "CPU µs per job of the throughput rounds: this Node process while processing, and redis-server over the whole round (add + process):",
    "",
    ...markdownTable(cpuHeader, cpuRows, align(cpuHeader.length)),
    "",
    ...(aims.length > 0 ? ["Aims of the issue:", "", ...aims, ""] : []),
  ].join("\n");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
