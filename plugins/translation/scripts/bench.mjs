#!/usr/bin/env node
// Measures translation through the platform (memory://, a worker in this process) with Apertium:
//   node plugins/translation/scripts/bench.mjs [sentences=1000] [rounds=3]
// Each round: translation.translateBatch of <sentences> distinct English sentences en→es with an
// empty cache (the engine translates all of them), then the same batch again (all from the
// cache). Both are timed end to end (enqueue → result). The pipeline is started by a warm-up job
// first, so its ~0.3 s start is not counted; it is printed on its own. Side by side, in the same
// round: the same sentences through a loaded engine called directly (no platform, no cache), the
// bare reference for what the task adds. Needs a build first
// (pnpm build) and Apertium (apt-get install apertium-eng-spa).
import { createConveyor } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { apertium, translation } from "@conveyor/plugin-translation";

const count = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);

const SUBJECTS = ["dog", "cat", "teacher", "child", "farmer", "doctor", "student", "bird", "woman", "man"];
const VERBS = ["sees", "likes", "eats", "finds", "wants", "buys", "paints", "reads"];
const OBJECTS = ["apple", "book", "house", "car", "letter", "table", "river", "garden", "bread", "chair"];
const PLACES = [
  "in the morning",
  "in the city",
  "in the park",
  "in the kitchen",
  "at school",
  "in the evening",
];
const texts = [];
for (let i = 0; texts.length < count; i++) {
  const pick = (list, div) => list[Math.floor(i / div) % list.length];
  const n = Math.floor(i / (SUBJECTS.length * VERBS.length * OBJECTS.length * PLACES.length));
  texts.push(
    `The ${pick(SUBJECTS, 1)} ${pick(VERBS, 10)} the ${pick(OBJECTS, 80)} ${pick(PLACES, 800)}${n ? ` ${n} times` : ""}.`,
  );
}
if (new Set(texts).size !== texts.length) throw new Error("the generated sentences are not distinct");

const conveyor = await createConveyor({
  queue: createMemoryQueue(),
  cache: createMemoryCache(),
  rateLimiter: createMemoryRateLimiter(),
  env: false,
  logger: false,
  plugins: [translation({ engines: [apertium()] })],
});
const worker = conveyor.worker();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (value, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits });

async function batch() {
  const started = performance.now();
  const job = await conveyor.enqueue("translation.translateBatch", { texts, from: "en", to: "es" });
  const result = await job.result({ timeoutMs: 600_000 });
  return { ms: performance.now() - started, result };
}

try {
  const started = performance.now();
  await (await conveyor.enqueue("translation.translate", { text: "Hello.", from: "en", to: "es" })).result();
  console.log(
    `warm-up (loads the engine, starts the eng-spa pipeline): ${fmt(performance.now() - started)} ms`,
  );

  const direct = await apertium().load();
  await direct.translate(["Hello."], { from: "en", to: "es" });
  const engineMs = [];
  const cachedMs = [];
  const directMs = [];
  for (let round = 1; round <= rounds; round++) {
    await conveyor.cache.clear();
    const first = await batch();
    if (first.result.cache.misses !== count)
      throw new Error(`expected ${count} misses, got ${first.result.cache.misses}`);
    const again = await batch();
    if (again.result.cache.hits !== count || again.result.cache.misses !== 0) {
      throw new Error(`expected ${count} hits, got ${JSON.stringify(again.result.cache)}`);
    }
    if (JSON.stringify(again.result.texts) !== JSON.stringify(first.result.texts)) {
      throw new Error("the cached answers differ from the engine's");
    }
    const bare = performance.now();
    await direct.translate(texts, { from: "en", to: "es" });
    const bareMs = performance.now() - bare;
    engineMs.push(first.ms);
    cachedMs.push(again.ms);
    directMs.push(bareMs);
    console.log(
      `round ${round}: task ${fmt(first.ms)} ms (${fmt((count / first.ms) * 1000)} sentences/s; engine called directly: ${fmt(bareMs)} ms), from cache ${fmt(again.ms, 1)} ms (${fmt((count / again.ms) * 1000)} sentences/s), ${fmt(first.ms / again.ms, 1)}× faster`,
    );
  }
  const engine = median(engineMs);
  const cached = median(cachedMs);
  console.log(
    `\nmedian of ${rounds}, ${count} sentences en→es through translation.translateBatch on memory://:\n` +
      `  Apertium:   ${fmt(engine)} ms, ${fmt((count / engine) * 1000)} sentences/s (engine called directly, no platform: ${fmt(median(directMs))} ms)\n` +
      `  from cache: ${fmt(cached, 1)} ms, ${fmt((count / cached) * 1000)} sentences/s (${fmt(engine / cached, 1)}× faster)`,
  );
  console.log(`sample: "${texts[0]}" → "${(await batch()).result.texts[0]}"`);
  await direct.close();
} finally {
  await worker.close();
  await conveyor.close();
}
