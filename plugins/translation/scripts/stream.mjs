#!/usr/bin/env node
import { once } from "node:events";
// Shows that translation.translateFile streams: memory stays flat whatever the file's size.
//   node plugins/translation/scripts/stream.mjs [rows=1000000] [distinct=200] [chunkSize=1000]
// Writes a CSV of <rows> rows (id, text, note) whose text cycles through <distinct> English
// sentences, translates its text column en→es through Apertium on memory:// (the engine
// translates each distinct sentence once; every other row is a cache hit), checks the output's
// row count and order, and prints time, rows/s and the process's peak RSS. Needs a build first
// (pnpm build) and Apertium (apt-get install apertium-eng-spa).
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createConveyor } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { translation } from "@conveyor/plugin-translation";

const rows = Number(process.argv[2] ?? 1_000_000);
const distinct = Number(process.argv[3] ?? 200);
const chunkSize = Number(process.argv[4] ?? 1_000);
const SUBJECTS = ["dog", "cat", "teacher", "child", "farmer", "doctor", "student", "bird", "woman", "man"];
const VERBS = ["sees", "likes", "eats", "finds", "wants", "buys", "paints", "reads"];
const OBJECTS = ["apple", "book", "house", "car", "letter", "table", "river", "garden", "bread", "chair"];
const sentence = (i) =>
  `The ${SUBJECTS[i % 10]} ${VERBS[Math.floor(i / 10) % 8]} the ${OBJECTS[Math.floor(i / 80) % 10]}${i >= 800 ? ` ${Math.floor(i / 800)} times` : ""}.`;

const dir = mkdtempSync(join(tmpdir(), "conveyor-translation-stream-"));
const input = join(dir, "big.csv");
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
try {
  const out = createWriteStream(input);
  out.write("id,text,note\n");
  for (let i = 0; i < rows; i++) {
    if (!out.write(`${i},${sentence(i % distinct)},n${i % 7}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  console.log(
    `input: ${rows.toLocaleString("en-US")} rows, ${mb(statSync(input).size)}, ${distinct} distinct sentences`,
  );

  const conveyor = await createConveyor({
    queue: createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger: false,
    plugins: [translation({ roots: [dir], chunkSize })],
  });
  const worker = conveyor.worker();
  try {
    const started = performance.now();
    const job = await conveyor.enqueue("translation.translateFile", {
      input: "big.csv",
      output: "big.es.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    const result = await job.result({ timeoutMs: 3_600_000 });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `translateFile: ${result.rows.toLocaleString("en-US")} rows in ${seconds.toFixed(1)} s (${Math.round(result.rows / seconds).toLocaleString("en-US")} rows/s), cache ${result.cache.hits.toLocaleString("en-US")} hits / ${result.cache.misses} misses, output ${mb(result.bytes)}`,
    );
  } finally {
    await worker.close();
    await conveyor.close();
  }

  let seen = 0;
  for await (const line of createInterface({ input: createReadStream(join(dir, "big.es.csv")) })) {
    if (seen > 0 && !line.startsWith(`${seen - 1},`)) throw new Error(`row ${seen} out of order: ${line}`);
    seen++;
  }
  if (seen !== rows + 1) throw new Error(`expected ${rows + 1} lines, got ${seen}`);
  console.log(`output checked: ${rows.toLocaleString("en-US")} rows in order`);
  console.log(`peak RSS of this process: ${mb(process.resourceUsage().maxRSS * 1024)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
