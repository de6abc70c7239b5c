#!/usr/bin/env node
// dataConversion.convert against bare DuckDB, side by side (needs a build of the plugin first):
//
//   node plugins/data-conversion/scripts/bench.mjs [--rows 1000000] [--rounds 5]
//        [--memory-limit 128MB] [--threads N] [--input orders.csv] [--no-rss] [--rss-runs 1]
//
// Generates <rows> orders (samples/generate.mjs) in a temp folder under the OS temp dir (or uses
// --input), then:
//  1. throughput, in this process: the task through the platform (memory://, a worker in this
//     process, end to end from enqueue to result) and the same conversion run bare on a DuckDB
//     instance with the same memory limit and threads and DuckDB's defaults otherwise
//     (`COPY (SELECT * FROM read_…(file)) TO … (FORMAT …)`), CSV → Parquet and Parquet → CSV,
//     interleaved in every round (the order alternates); medians of the rounds and the median of
//     the per-round ratios bare time / task time (1.00 = as fast as bare DuckDB), in wall time
//     and in CPU time (user + system of the whole process, DuckDB's threads included — less
//     sensitive to other load on the machine than wall time).
//  2. peak RSS: each side and direction once more in a fresh child process (so one side's heap
//     never counts for the other), its peak resident set size as the kernel reports it; with
//     --rss-runs N, N fresh processes each and the highest peak.
// The machine is shared and noisy: compare the ratios, not the absolute numbers between runs.
import { execFileSync } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { createConveyor } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { dataConversion } from "@conveyor/plugin-data-conversion";
import { DuckDBInstance } from "@duckdb/node-api";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "5" },
    "memory-limit": { type: "string" },
    threads: { type: "string" },
    input: { type: "string" },
    "no-rss": { type: "boolean", default: false },
    "rss-runs": { type: "string", default: "1" },
    // Internal: run one conversion in a child process and print its numbers as JSON.
    child: { type: "string" },
    direction: { type: "string" },
    parquet: { type: "string" },
  },
});
// The plugin's default, given to both sides.
const memoryLimit = args["memory-limit"] ?? "128MB";
const threads = args.threads === undefined ? undefined : Number(args.threads);
const DIRECTIONS = {
  "csv→parquet": { from: "csv", to: "parquet", reader: "read_csv", writer: "(FORMAT parquet)" },
  "parquet→csv": { from: "parquet", to: "csv", reader: "read_parquet", writer: "(FORMAT csv)" },
};

/** The same settings the plugin gives its DuckDB instance, for the bare side. */
function bareInstance() {
  return DuckDBInstance.create(":memory:", {
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
    memory_limit: memoryLimit,
    ...(threads !== undefined ? { threads: String(threads) } : {}),
  });
}

async function platform(root) {
  const conveyor = await createConveyor({
    queue: createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger: false,
    plugins: [
      dataConversion({
        roots: [root],
        memoryLimit,
        ...(threads !== undefined ? { threads } : {}),
      }),
    ],
  });
  const worker = conveyor.worker();
  return {
    /** Seconds from enqueue to result, rows written and progress updates seen. */
    async convert(input, output) {
      const started = performance.now();
      const job = await conveyor.enqueue("dataConversion.convert", { input, output });
      let updates = 0;
      const watching = (async () => {
        for await (const event of job.events()) {
          if (event.type === "progress") updates++;
          if (event.type === "completed" || event.type === "failed") return;
        }
      })();
      const result = await job.result();
      const seconds = (performance.now() - started) / 1000;
      await watching;
      return { seconds, rows: result.rows, updates };
    },
    async close() {
      await worker.close();
      await conveyor.close();
    },
  };
}

async function bare(instance, direction, input, output) {
  const { reader, writer } = DIRECTIONS[direction];
  const connection = await instance.connect();
  try {
    const started = performance.now();
    const sql = `COPY (SELECT * FROM ${reader}('${input}')) TO '${output}' ${writer}`;
    const rows = Number((await connection.run(sql)).rowsChanged);
    return { seconds: (performance.now() - started) / 1000, rows };
  } finally {
    connection.closeSync();
  }
}

/**
 * Throws unless the task's outputs keep the input's row order: samples/generate.mjs numbers
 * its orders 1,000,000,000,001, …, so row n (from 0) must have order_id 1,000,000,000,001 + n.
 */
async function checkOrder(instance, files) {
  const first = 1_000_000_000_001;
  const connection = await instance.connect();
  try {
    const sql = `SELECT count(*) AS n FROM read_parquet('${files["csv→parquet"]}', file_row_number = true) WHERE order_id <> ${first} + file_row_number`;
    const misplaced = Number((await connection.runAndReadAll(sql)).getRowObjects()[0].n);
    if (misplaced) throw new Error(`${misplaced} rows of the task's Parquet output are out of order`);
  } finally {
    connection.closeSync();
  }
  let line = -1;
  for await (const text of createInterface({ input: createReadStream(files["parquet→csv"]) })) {
    if (line >= 0 && Number(text.slice(0, text.indexOf(","))) !== first + line) {
      throw new Error(`line ${line + 2} of the task's CSV output is out of order: ${text}`);
    }
    line++;
  }
  console.log(`row order kept in both of the task's outputs (${line.toLocaleString("en-US")} rows checked)`);
}

const peakRss = () => process.resourceUsage().maxRSS * 1024;

if (args.child) {
  // One conversion in a fresh process: what the peak RSS of a worker doing it is.
  const direction = args.direction;
  const input = direction === "csv→parquet" ? args.input : args.parquet;
  const output = join(dirname(args.input), `child-${args.child}.${DIRECTIONS[direction].to}`);
  let result;
  if (args.child === "task") {
    const conveyor = await platform(dirname(args.input));
    result = await conveyor.convert(input, output);
    await conveyor.close();
  } else {
    result = await bare(await bareInstance(), direction, input, output);
  }
  rmSync(output, { force: true });
  console.log(JSON.stringify({ ...result, peakRssBytes: peakRss() }));
  process.exit(0);
}

const rows = Number(args.rows);
const rounds = Number(args.rounds);
const dir = args.input ? undefined : mkdtempSync(join(tmpdir(), "conveyor-dc-bench-"));
const csv = args.input ? resolve(args.input) : join(dir, "orders.csv");
const root = dirname(csv);
if (!args.input) {
  execFileSync(process.execPath, [join(import.meta.dirname, "../samples/generate.mjs"), String(rows), csv], {
    stdio: "inherit",
  });
}
const outputs = {
  task: { "csv→parquet": join(root, "bench-task.parquet"), "parquet→csv": join(root, "bench-task.csv") },
  bare: { "csv→parquet": join(root, "bench-bare.parquet"), "parquet→csv": join(root, "bench-bare.csv") },
};
// Both sides read the same Parquet file: the one the task's warm-up wrote.
const inputs = { "csv→parquet": csv, "parquet→csv": outputs.task["csv→parquet"] };
const mb = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`;
const rate = (n) => `${(n / 1e6).toFixed(2)}M`;
const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
console.log(
  `input: ${csv} (${(statSync(csv).size / 1e6).toFixed(1)} MB); DuckDB memory limit ${memoryLimit}, threads ${threads ?? "default"}; ${rounds} rounds`,
);

const conveyor = await platform(root);
const instance = await bareInstance();
// Per direction: seconds of each side and the per-round ratios bare / task.
const samples = Object.fromEntries(
  Object.keys(DIRECTIONS).map((direction) => [
    direction,
    { task: [], bare: [], wall: [], cpu: [], taskCpu: [] },
  ]),
);
let rowCount = 0;
let updates = 0;
try {
  for (const direction of Object.keys(DIRECTIONS)) {
    const first = await conveyor.convert(inputs[direction], outputs.task[direction]);
    await bare(instance, direction, inputs[direction], outputs.bare[direction]);
    const note = direction === "csv→parquet" ? " (the worker's first job: it loads DuckDB too)" : "";
    console.log(`warm-up ${direction}: task ${first.seconds.toFixed(2)} s${note}`);
  }
  for (let round = 0; round < rounds; round++) {
    for (const direction of Object.keys(DIRECTIONS)) {
      const sides = round % 2 ? ["bare", "task"] : ["task", "bare"];
      const took = {};
      const cpu = {};
      for (const side of sides) {
        const before = process.cpuUsage();
        const result =
          side === "task"
            ? await conveyor.convert(inputs[direction], outputs.task[direction])
            : await bare(instance, direction, inputs[direction], outputs.bare[direction]);
        if (result.rows !== rows && !args.input)
          throw new Error(`${side} wrote ${result.rows} rows, not ${rows}`);
        rowCount = result.rows;
        if (side === "task") updates = Math.max(updates, result.updates);
        const used = process.cpuUsage(before);
        cpu[side] = (used.user + used.system) / 1e6;
        took[side] = result.seconds;
        samples[direction][side].push(result.seconds);
      }
      samples[direction].wall.push(took.bare / took.task);
      samples[direction].cpu.push(cpu.bare / cpu.task);
      samples[direction].taskCpu.push(cpu.task);
      console.log(
        `round ${round + 1} ${direction}: task ${took.task.toFixed(2)} s (CPU ${cpu.task.toFixed(2)} s), bare ${took.bare.toFixed(2)} s (CPU ${cpu.bare.toFixed(2)} s)`,
      );
    }
  }
  await checkOrder(instance, outputs.task);
} finally {
  await conveyor.close();
  instance.closeSync();
}

const rss = { task: {}, bare: {} };
if (!args["no-rss"]) {
  for (const direction of Object.keys(DIRECTIONS)) {
    for (const side of ["task", "bare"]) {
      const childArgs = ["--child", side, "--direction", direction, "--input", csv];
      childArgs.push("--parquet", inputs["parquet→csv"], "--memory-limit", memoryLimit);
      if (threads !== undefined) childArgs.push("--threads", String(threads));
      for (let run = 0; run < Number(args["rss-runs"]); run++) {
        const output = execFileSync(process.execPath, [import.meta.filename, ...childArgs], {
          encoding: "utf8",
        });
        const { peakRssBytes } = JSON.parse(output.trim().split("\n").at(-1));
        rss[side][direction] = Math.max(rss[side][direction] ?? 0, peakRssBytes);
      }
    }
  }
}

console.log(
  `\n${rowCount.toLocaleString("en-US")} rows, medians of ${rounds} rounds; the task reported progress up to ${updates} times a job\n`,
);
console.log(
  "| direction | task rows/s | bare DuckDB rows/s | speed task ÷ bare, wall | speed task ÷ bare, CPU | task rows per CPU-second | task peak RSS | bare peak RSS |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const direction of Object.keys(DIRECTIONS)) {
  const { task: taskSeconds, bare: bareSeconds, wall, cpu, taskCpu } = samples[direction];
  const task = rowCount / median(taskSeconds);
  const plain = rowCount / median(bareSeconds);
  const ratio = median(wall);
  const cpuRatio = median(cpu);
  const peaks = rss.task[direction] ? [mb(rss.task[direction]), mb(rss.bare[direction])] : ["–", "–"];
  console.log(
    `| ${direction} | ${rate(task)} | ${rate(plain)} | ${ratio.toFixed(2)} | ${cpuRatio.toFixed(2)} | ${rate(rowCount / median(taskCpu))} | ${peaks.join(" | ")} |`,
  );
}
for (const side of Object.values(outputs))
  for (const file of Object.values(side)) rmSync(file, { force: true });
if (dir) rmSync(dir, { recursive: true, force: true });
