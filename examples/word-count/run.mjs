#!/usr/bin/env node
// The demo (`pnpm demo`): counts the words of a folder with the built packages. It creates the
// platform on the embedded default (memory://, so nothing to set up), starts a worker in this
// process, enqueues files.wordCount for the folder in argv[2] (default: the repo's packages/),
// shows the job's progress and prints the result.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createConveyor, isConveyorError, loadConfig } from "conveyor";

const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(process.argv[2] ?? join(here, "../../packages"));

/**
 * `[#####.....] 12/40 30% message`, like the conveyor command's bar.
 * @param {import("conveyor").Progress} progress
 */
function bar({ current, total, message }, width = 20) {
  if (!total) return `${current} ${message ?? ""}`;
  const filled = Math.floor(Math.min(1, current / total) * width);
  const percent = Math.floor(Math.min(1, current / total) * 100);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${current}/${total} ${percent}% ${message ?? ""}`;
}

const number = (/** @type {number} */ value) => value.toLocaleString("en-US");

async function main() {
  // The config file (TypeScript, loaded without a build) registers the files plugin. env: false
  // keeps the demo on the embedded default even when CONVEYOR_URL is set in the shell.
  const config = await loadConfig({ cwd: here });
  const conveyor = await createConveyor({ ...config, url: "memory://", env: false, logger: false });
  try {
    const worker = conveyor.worker();
    const job = await conveyor.enqueue("files.wordCount", { dir });
    console.error(`Counting words under ${dir}`);
    console.error(`job ${job.id} on ${conveyor.backends.queue} (queue ${job.queue}), worker ${worker.id}`);

    const tty = process.stderr.isTTY === true;
    let lastLine = 0;
    const started = Date.now();
    for await (const event of job.events()) {
      if (event.type !== "progress" || !event.progress) continue;
      const text = bar(event.progress);
      if (tty) {
        process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 80) - 1)}`);
      } else if (Date.now() - lastLine >= 250 || event.progress.current === event.progress.total) {
        lastLine = Date.now();
        process.stderr.write(`${text}\n`);
      }
    }
    if (tty) process.stderr.write("\n");

    const result = /** @type {import("./src/word-count.js").WordCountResult} */ (await job.result());
    const seconds = ((Date.now() - started) / 1000).toFixed(2);
    console.log(
      `\n${number(result.files)} files, ${number(result.lines)} lines, ${number(result.words)} words, ${number(result.bytes)} bytes in ${seconds} s`,
    );
    if (result.skipped) console.log(`(${result.skipped} binary files skipped)`);
    console.log("\nTop files by words:");
    const width = Math.max(...result.topFiles.map((file) => file.path.length));
    for (const [index, file] of result.topFiles.entries()) {
      console.log(
        `  ${index + 1}. ${file.path.padEnd(width)}  ${number(file.words).padStart(7)} words  ${number(file.lines).padStart(6)} lines`,
      );
    }
    console.log(`\nTop words: ${result.topWords.map(({ word, count }) => `${word} (${count})`).join(", ")}`);
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
