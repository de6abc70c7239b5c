import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  canCollectGarbage,
  collectGarbage,
  formatMs,
  formatRate,
  markdownTable,
  median,
  percentile,
  sourceRevision,
} from "./stats.js";
import type { BenchSystem, LatencyRun, Observe } from "./system.js";

const USAGE = `Usage: pnpm bench -- [options]

  --jobs N             jobs per throughput round (default 100000)
  --rounds N           rounds per scenario; medians are reported (default 3)
  --concurrency LIST   worker concurrencies, comma-separated (default 1,16,64)
  --chunk N            jobs per bulk enqueue call (default 1000)
  --rate N             arrival rate of the latency run, jobs/s (default 2000)
  --latency-jobs N     jobs per latency round; 0 skips latency (default 4000)
  --warmup N           jobs of the unmeasured warm-up round (default 10000)
  --observe MODE       how completion is seen: events (queue events / push promise,
                       default) or task (inside the no-op task; no event subscriber)
  --systems LIST       conveyor,fastq or one of them (default both)
  --out FILE           where to write the markdown results (default bench/results/memory.md)
  --print-only         print the tables, write no file
  -h, --help           this text`;

// Loaded on demand, so `--systems fastq` runs even before the workspace packages are built.
const SYSTEMS: Record<string, () => Promise<BenchSystem>> = {
  conveyor: async () => (await import("./conveyor-system.js")).conveyorSystem,
  fastq: async () => (await import("./fastq-system.js")).fastqSystem,
};
const AIM_JOBS_PER_SECOND = 100_000;
const AIM_CONCURRENCY = 64;
const AIM_RATIO = 0.5;

function positiveInt(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new Error(`--${name} must be a whole number${allowZero ? "" : " of at least 1"}, got "${value}"`);
  }
  return n;
}

async function readOptions() {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "100000" },
      rounds: { type: "string", default: "3" },
      concurrency: { type: "string", default: "1,16,64" },
      chunk: { type: "string", default: "1000" },
      rate: { type: "string", default: "2000" },
      "latency-jobs": { type: "string", default: "4000" },
      warmup: { type: "string", default: "10000" },
      observe: { type: "string", default: "events" },
      systems: { type: "string", default: "conveyor,fastq" },
      out: { type: "string", default: fileURLToPath(new URL("../results/memory.md", import.meta.url)) },
      "print-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.observe !== "events" && values.observe !== "task") {
    throw new Error(`--observe must be events or task, got "${values.observe}"`);
  }
  const observe: Observe = values.observe;
  const systems: BenchSystem[] = [];
  for (const name of values.systems.split(",")) {
    const load = SYSTEMS[name.trim()];
    if (!load) throw new Error(`--systems: unknown system "${name}"; use ${Object.keys(SYSTEMS).join(", ")}`);
    systems.push(await load());
  }
  return {
    jobs: positiveInt("jobs", values.jobs),
    rounds: positiveInt("rounds", values.rounds),
    concurrencies: values.concurrency.split(",").map((c) => positiveInt("concurrency", c.trim())),
    chunk: positiveInt("chunk", values.chunk),
    rate: positiveInt("rate", values.rate),
    latencyJobs: positiveInt("latency-jobs", values["latency-jobs"], true),
    warmup: positiveInt("warmup", values.warmup, true),
    observe,
    systems,
    out: values["print-only"] ? undefined : values.out,
  };
}

/** Per system and scenario, one entry per round. */
interface Samples {
  enqueueMs: number[];
  processMs: number[];
  cpuUs: number[];
  p50Ms: number[];
  p99Ms: number[];
}

function latencyPercentiles(run: LatencyRun): { p50Ms: number; p99Ms: number } {
  const latencies = new Float64Array(run.started.length);
  for (let i = 0; i < latencies.length; i++) latencies[i] = run.ended[i]! - run.started[i]!;
  latencies.sort();
  return { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const options = await readOptions();
  if (!canCollectGarbage()) {
    console.error(
      "bench: run with node --expose-gc (pnpm bench does), or garbage of one round is charged to the next.",
    );
  }
  const inputs = Array.from(
    { length: Math.max(options.jobs, options.latencyJobs, options.warmup) },
    (_, i) => ({ i }),
  );
  const ids = Array.from({ length: options.latencyJobs }, (_, i) => `bench-${i}`);
  const throughputInputs = inputs.slice(0, options.jobs);
  const latencyInputs = inputs.slice(0, options.latencyJobs);
  const began = performance.now();

  // JIT warm-up of every code path, on both sides, before anything is measured.
  if (options.warmup > 0) {
    for (const system of options.systems) {
      await system.throughput({
        inputs: inputs.slice(0, options.warmup),
        chunk: options.chunk,
        concurrency: 16,
        observe: options.observe,
      });
      if (options.latencyJobs > 0) {
        const n = Math.min(options.latencyJobs, 500);
        await system.latency({
          inputs: latencyInputs.slice(0, n),
          ids: ids.slice(0, n),
          concurrency: 16,
          ratePerSecond: options.rate,
          observe: options.observe,
        });
      }
      await collectGarbage();
    }
  }

  const samples = new Map<string, Samples>();
  const key = (system: BenchSystem, concurrency: number) => `${system.name}@${concurrency}`;
  for (const concurrency of options.concurrencies) {
    for (const system of options.systems)
      samples.set(key(system, concurrency), {
        enqueueMs: [],
        processMs: [],
        cpuUs: [],
        p50Ms: [],
        p99Ms: [],
      });
    for (let round = 0; round < options.rounds; round++) {
      // Alternate who goes first so slow drift of the machine does not favour one side.
      const order = round % 2 === 0 ? options.systems : [...options.systems].reverse();
      for (const system of order) {
        await collectGarbage();
        const run = await system.throughput({
          inputs: throughputInputs,
          chunk: options.chunk,
          concurrency,
          observe: options.observe,
        });
        const s = samples.get(key(system, concurrency))!;
        s.enqueueMs.push(run.enqueueMs);
        s.processMs.push(run.processMs);
        s.cpuUs.push(run.cpuUs);
        const total = run.enqueueMs + run.processMs;
        console.error(
          `c=${concurrency} round ${round + 1}/${options.rounds} ${system.name}: ${formatRate((options.jobs / total) * 1000)} jobs/s ` +
            `(enqueue ${total > 0 ? formatRate((options.jobs / run.enqueueMs) * 1000) : "–"}/s, process ${formatRate((options.jobs / run.processMs) * 1000)}/s)`,
        );
      }
      if (options.latencyJobs === 0) continue;
      for (const system of order) {
        await collectGarbage();
        const run = await system.latency({
          inputs: latencyInputs,
          ids,
          concurrency,
          ratePerSecond: options.rate,
          observe: options.observe,
        });
        const { p50Ms, p99Ms } = latencyPercentiles(run);
        const s = samples.get(key(system, concurrency))!;
        s.p50Ms.push(p50Ms);
        s.p99Ms.push(p99Ms);
        console.error(
          `c=${concurrency} round ${round + 1}/${options.rounds} ${system.name}: latency p50 ${formatMs(p50Ms)} ms, p99 ${formatMs(p99Ms)} ms`,
        );
      }
    }
  }
  const elapsedS = (performance.now() - began) / 1000;

  const rate = (system: BenchSystem, concurrency: number, pick: (s: Samples, i: number) => number) => {
    const s = samples.get(key(system, concurrency));
    if (!s) return Number.NaN;
    return median(s.enqueueMs.map((_, i) => (options.jobs / pick(s, i)) * 1000));
  };
  const totalRate = (system: BenchSystem | undefined, c: number) =>
    system ? rate(system, c, (s, i) => s.enqueueMs[i]! + s.processMs[i]!) : Number.NaN;
  const enqueueRate = (system: BenchSystem | undefined, c: number) =>
    system ? rate(system, c, (s, i) => s.enqueueMs[i]!) : Number.NaN;
  const processRate = (system: BenchSystem | undefined, c: number) =>
    system ? rate(system, c, (s, i) => s.processMs[i]!) : Number.NaN;
  const cpuPerJob = (system: BenchSystem | undefined, c: number) => {
    const s = system && samples.get(key(system, c));
    return s ? median(s.cpuUs.map((us) => us / options.jobs)) : Number.NaN;
  };
  const formatUs = (us: number) => (Number.isFinite(us) ? us.toFixed(1) : "–");
  const latency = (system: BenchSystem | undefined, c: number) => {
    const s = system && samples.get(key(system, c));
    return s && s.p50Ms.length > 0 ? `${formatMs(median(s.p50Ms))} / ${formatMs(median(s.p99Ms))}` : "–";
  };

  const conveyor = options.systems.find((s) => s.name === "conveyor");
  const reference = options.systems.find((s) => s.name === "fastq");
  const ratio = (c: number) => totalRate(conveyor, c) / totalRate(reference, c);
  const formatRatio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–");

  const right = ["left", "right", "right", "right", "right", "right", "right", "right"] as const;
  const main = markdownTable(
    ["scenario", "conveyor jobs/s", "fastq jobs/s", "ratio", "conveyor p50 / p99 ms", "fastq p50 / p99 ms"],
    options.concurrencies.map((c) => [
      `no-op, concurrency ${c}`,
      formatRate(totalRate(conveyor, c)),
      formatRate(totalRate(reference, c)),
      formatRatio(ratio(c)),
      latency(conveyor, c),
      latency(reference, c),
    ]),
    right,
  );
  const phases = markdownTable(
    [
      "scenario",
      "conveyor enqueue/s",
      "fastq enqueue/s",
      "conveyor process/s",
      "fastq process/s",
      "conveyor CPU µs/job",
      "fastq CPU µs/job",
    ],
    options.concurrencies.map((c) => [
      `no-op, concurrency ${c}`,
      formatRate(enqueueRate(conveyor, c)),
      formatRate(enqueueRate(reference, c)),
      formatRate(processRate(conveyor, c)),
      formatRate(processRate(reference, c)),
      formatUs(cpuPerJob(conveyor, c)),
      formatUs(cpuPerJob(reference, c)),
    ]),
    right,
  );
  const aims: string[] = [];
  if (conveyor && options.concurrencies.includes(AIM_CONCURRENCY)) {
    const got = totalRate(conveyor, AIM_CONCURRENCY);
    const processing = processRate(conveyor, AIM_CONCURRENCY);
    aims.push(
      `- core + memory ≥ ${formatRate(AIM_JOBS_PER_SECOND)} jobs/s at concurrency ${AIM_CONCURRENCY}: ` +
        `${got >= AIM_JOBS_PER_SECOND ? "**met**" : "**not met**"} end to end (${formatRate(got)} jobs/s); ` +
        `processing alone ${processing >= AIM_JOBS_PER_SECOND ? "meets it" : "does not"} (${formatRate(processing)} jobs/s)`,
    );
    if (reference) {
      const r = ratio(AIM_CONCURRENCY);
      aims.push(
        `- core + memory ≥ ${AIM_RATIO}× fastq at concurrency ${AIM_CONCURRENCY}: ${r >= AIM_RATIO ? "**met**" : "**not met**"} (${formatRatio(r)})`,
      );
    }
  }

  const cpu = cpus();
  const settings =
    `${formatRate(options.jobs)} jobs per throughput round in chunks of ${formatRate(options.chunk)}; ` +
    `latency: ${formatRate(options.latencyJobs)} jobs enqueued one by one at ${formatRate(options.rate)} jobs/s; ` +
    `${options.rounds} interleaved round(s) per scenario, medians; warm-up ${formatRate(options.warmup)} jobs.`;
  const report = [
    "# Benchmark: core + @conveyor/memory vs fastq",
    "",
    `Run on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ` +
      `${process.platform}/${process.arch}; ${elapsedS.toFixed(0)} s in all; sources at ${sourceRevision(["packages/core/src", "adapters/memory/src"])}.`,
    `Command: \`pnpm bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\``,
    "",
    settings,
    "jobs/s counts both phases (bulk enqueue with no worker running, then processing the backlog);",
    "latency is enqueue call → completion, per job, at a fixed arrival rate. Completion is observed " +
      (options.observe === "events"
        ? "through Conveyor's `completed` events and fastq's push promise."
        : "inside the no-op task (Conveyor has no event subscriber)."),
    "How it is measured: docs/guide/benchmarks.md.",
    "",
    ...main,
    "",
    "Phases of the throughput rounds, and the process's CPU time per job over both phases (all threads, GC included;",
    "steadier than wall time when other work shares the machine):",
    "",
    ...phases,
    "",
    ...(aims.length > 0 ? ["Aims of the issue:", "", ...aims, ""] : []),
  ].join("\n");

  console.log(`\n${report}`);
  if (options.out) {
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, report);
    console.error(`bench: wrote ${options.out}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
