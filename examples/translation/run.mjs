#!/usr/bin/env node
// The translation example: translates the text column of a CSV (default: the bundled 40-row
// samples/reviews.csv) from English to Spanish through Apertium with translation.translateFile,
// on the embedded default (memory://, a worker in this process), with progress in rows; then
// sends the same sentences as one translation.translateBatch twice to show the cache.
//   apt-get install -y apertium-eng-spa
//   node examples/translation/run.mjs [input.csv] [output.csv]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createConveyor, isConveyorError, loadConfig } from "conveyor";

const here = dirname(fileURLToPath(import.meta.url));
const input = resolve(process.argv[2] ?? join(here, "samples/reviews.csv"));
const output = resolve(process.argv[3] ?? join(here, "out/reviews.es.csv"));

/**
 * `[#####.....] 20/40 rows 50% message`, like the conveyor command's bar.
 * @param {import("conveyor").Progress} progress
 */
function bar({ current, total, message }, width = 20) {
  if (!total) return `${current} rows ${message ?? ""}`;
  const ratio = Math.min(1, current / total);
  const filled = Math.floor(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${current}/${total} rows ${Math.floor(ratio * 100)}% ${message ?? ""}`;
}

function checkApertium() {
  try {
    execFileSync("apertium", ["-l"], { stdio: "pipe" });
  } catch {
    console.error(
      "Apertium is not installed. Install it with the English–Spanish pair:\n  apt-get install -y apertium-eng-spa",
    );
    process.exit(1);
  }
}

/**
 * Translates the file, showing its progress; returns the result.
 * @param {import("conveyor").Conveyor} conveyor
 * @returns {Promise<import("@conveyor/plugin-translation").TranslateFileResult>}
 */
async function translateFile(conveyor) {
  const job = await conveyor.enqueue("translation.translateFile", {
    input,
    output,
    columns: ["text"],
    from: "en",
    to: "es",
  });
  console.error(`${input} → ${output} (job ${job.id})`);
  const tty = process.stderr.isTTY === true;
  for await (const event of job.events()) {
    if (event.type !== "progress" || !event.progress) continue;
    if (tty) process.stderr.write(`\r\x1b[K${bar(event.progress)}`);
    else if (event.progress.total && event.progress.current === event.progress.total) {
      process.stderr.write(`${bar(event.progress)}\n`);
    }
  }
  if (tty) process.stderr.write("\n");
  return /** @type {import("@conveyor/plugin-translation").TranslateFileResult} */ (await job.result());
}

async function main() {
  checkApertium();
  // env: false keeps the example on the embedded default even when CONVEYOR_URL is set.
  const config = await loadConfig({ cwd: here });
  const conveyor = await createConveyor({ ...config, url: "memory://", env: false, logger: false });
  try {
    const worker = conveyor.worker();
    mkdirSync(dirname(output), { recursive: true });
    const file = await translateFile(conveyor);
    console.log(
      `${file.rows} rows, ${file.cells} cells ${file.from}→${file.to} by ${file.engine} in ${file.durationMs} ms (cache: ${file.cache.hits} hits, ${file.cache.misses} misses) → ${file.output}`,
    );

    const lines = readFileSync(output, "utf8").split("\n");
    for (const line of lines.slice(1, 4)) console.log(`  ${line}`);

    // The same sentences as one batch: all of them are in the cache now, so the engine is not asked.
    const texts = originalTexts();
    const job = await conveyor.enqueue("translation.translateBatch", { texts, from: "en", to: "es" });
    const batch = /** @type {import("@conveyor/plugin-translation").TranslateBatchResult} */ (
      await job.result()
    );
    console.log(
      `the same ${batch.texts.length} sentences as a batch: ${batch.durationMs} ms (cache: ${batch.cache.hits} hits, ${batch.cache.misses} misses)`,
    );
    await worker.close();
  } finally {
    await conveyor.close();
  }
}

/** The text column of the input, read the simple way: the sample quotes it, last on each line. */
function originalTexts() {
  return readFileSync(input, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => /"(.*)"\s*$/.exec(line)?.[1] ?? "")
    .filter(Boolean);
}

try {
  await main();
} catch (error) {
  console.error(isConveyorError(error) ? error.message : error);
  process.exitCode = 1;
}
