#!/usr/bin/env node
// The data-conversion example: converts a CSV (default: the plugin's bundled 2,000-row orders
// sample) to Parquet and the Parquet to NDJSON with dataConversion.convert, on the embedded
// default (memory://, a worker in this process), showing progress in rows.
//   node examples/data-conversion/run.mjs [input.csv] [output.parquet]
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createConveyor, isConveyorError, loadConfig } from "conveyor";

const here = dirname(fileURLToPath(import.meta.url));
const input = resolve(process.argv[2] ?? join(here, "../../plugins/data-conversion/samples/orders.csv"));
const output = resolve(process.argv[3] ?? join(here, "out/orders.parquet"));

/**
 * `[#####.....] 1,200/2,000 60% message`, like the conveyor command's bar.
 * @param {import("conveyor").Progress} progress
 */
function bar({ current, total, message }, width = 20) {
  if (!total) return `${number(current)} rows ${message ?? ""}`;
  const ratio = Math.min(1, current / total);
  const filled = Math.floor(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${number(current)}/${number(total)} rows ${Math.floor(ratio * 100)}% ${message ?? ""}`;
}

const number = (/** @type {number} */ value) => value.toLocaleString("en-US");

/**
 * Enqueues one conversion, shows its progress and returns its result.
 * @param {import("conveyor").Conveyor} conveyor
 * @param {{ input: string, output: string }} files
 * @returns {Promise<import("@conveyor/plugin-data-conversion").ConvertResult>}
 */
async function convert(conveyor, files) {
  const job = await conveyor.enqueue("dataConversion.convert", files);
  console.error(`${files.input} → ${files.output} (job ${job.id})`);
  const tty = process.stderr.isTTY === true;
  for await (const event of job.events()) {
    if (event.type !== "progress" || !event.progress) continue;
    const done = event.progress.current === event.progress.total;
    if (tty) process.stderr.write(`\r\x1b[K${bar(event.progress)}`);
    else if (done) process.stderr.write(`${bar(event.progress)}\n`);
  }
  if (tty) process.stderr.write("\n");
  return /** @type {import("@conveyor/plugin-data-conversion").ConvertResult} */ (await job.result());
}

async function main() {
  // env: false keeps the example on the embedded default even when CONVEYOR_URL is set.
  const config = await loadConfig({ cwd: here });
  const conveyor = await createConveyor({ ...config, url: "memory://", env: false, logger: false });
  try {
    const worker = conveyor.worker();
    mkdirSync(dirname(output), { recursive: true });
    const parquet = await convert(conveyor, { input, output });
    console.log(
      `${number(parquet.rows)} rows, ${parquet.from} → ${parquet.to}: ${number(parquet.bytes)} bytes in ${parquet.durationMs} ms → ${parquet.output}`,
    );
    const ndjson = await convert(conveyor, {
      input: output,
      output: output.replace(/\.parquet$/, "") + ".ndjson",
    });
    console.log(
      `${number(ndjson.rows)} rows, ${ndjson.from} → ${ndjson.to}: ${number(ndjson.bytes)} bytes in ${ndjson.durationMs} ms → ${ndjson.output}`,
    );
    await worker.close();
  } finally {
    await conveyor.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(isConveyorError(error) ? error.message : error);
  process.exitCode = 1;
}
