#!/usr/bin/env node
// Measures dataConversion.convert through the platform (memory://, a worker in this process):
//   node plugins/data-conversion/scripts/bench.mjs [rows=1000000] [memoryLimit=512MB]
// Generates <rows> orders (samples/generate.mjs) in a temp folder, converts CSV → Parquet and
// Parquet → CSV, and prints time, rows/s and the process's peak RSS. Needs a build first.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConveyor } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { dataConversion } from "@conveyor/plugin-data-conversion";

const rows = Number(process.argv[2] ?? 1_000_000);
const memoryLimit = process.argv[3] ?? "512MB";
const dir = mkdtempSync(join(tmpdir(), "conveyor-dc-bench-"));
const csv = join(dir, "orders.csv");
execFileSync(process.execPath, [join(import.meta.dirname, "../samples/generate.mjs"), String(rows), csv], {
  stdio: "inherit",
});
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
console.log(
  `input: ${rows.toLocaleString("en-US")} rows, ${mb(statSync(csv).size)} CSV; DuckDB memory limit ${memoryLimit}`,
);

const conveyor = await createConveyor({
  queue: createMemoryQueue(),
  cache: createMemoryCache(),
  rateLimiter: createMemoryRateLimiter(),
  env: false,
  logger: false,
  plugins: [dataConversion({ roots: [dir], memoryLimit })],
});
const worker = conveyor.worker();
try {
  for (const [input, output] of [
    ["orders.csv", "orders.parquet"],
    ["orders.parquet", "back.csv"],
  ]) {
    const started = performance.now();
    const job = await conveyor.enqueue("dataConversion.convert", { input, output });
    const result = await job.result();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${input} → ${output}: ${result.rows.toLocaleString("en-US")} rows in ${seconds.toFixed(2)} s end to end (task ${result.durationMs} ms), ${Math.round(result.rows / seconds).toLocaleString("en-US")} rows/s, output ${mb(result.bytes)}, peak RSS so far ${mb(process.resourceUsage().maxRSS * 1024)}`,
    );
  }
} finally {
  await worker.close();
  await conveyor.close();
  rmSync(dir, { recursive: true, force: true });
}
