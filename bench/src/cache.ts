/**
 * Cache get/set per tier: @conveyor/memory, @conveyor/redis (an ephemeral redis-server, or
 * REDIS_URL), @conveyor/disk, and the core's tiered cache over the three, in one process and one
 * run, rounds interleaved. Runs the built packages: `pnpm build` first.
 *
 *   pnpm --filter @conveyor/bench bench:cache                     # writes bench/results/cache.md
 *   pnpm --filter @conveyor/bench bench:cache -- --ops 20000 --rounds 1 --print-only
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Cache, createTieredCache, silentLogger } from "@conveyor/core";
import { createDiskCache } from "@conveyor/disk";
import { createMemoryCache } from "@conveyor/memory";
import { createRedisCache } from "@conveyor/redis";
import { startRedisServer } from "@conveyor/testing";
import { collectGarbage, formatRate, markdownTable, median } from "./stats.js";

const USAGE = `Usage: pnpm bench:cache -- [options]

  --ops N          operations per measurement (default 50000)
  --keys N         distinct keys (default 10000)
  --in-flight N    calls in flight at once (default 50)
  --rounds N       rounds; medians are reported (default 3)
  --out FILE       where to write the markdown results (default bench/results/cache.md)
  --print-only     print the table, write no file
  -h, --help       this text`;

const { values } = parseArgs({
  options: {
    ops: { type: "string", default: "50000" },
    keys: { type: "string", default: "10000" },
    "in-flight": { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
    out: { type: "string", default: fileURLToPath(new URL("../results/cache.md", import.meta.url)) },
    "print-only": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name: string, raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a whole number of at least 1, got "${raw}"`);
  return n;
};
const OPS = whole("ops", values.ops);
const KEYS = whole("keys", values.keys);
const IN_FLIGHT = whole("in-flight", values["in-flight"]);
const ROUNDS = whole("rounds", values.rounds);

// A value the size of a typical cached task result: a few fields and a short text.
const value = (i: number) => ({ id: i, text: `translated sentence number ${i} `.repeat(3), score: i / 7 });
const key = (i: number) => `bench:${i % KEYS}`;

/** Runs `ops` calls of `call`, `IN_FLIGHT` at a time; returns calls per second. */
async function measure(call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < OPS) await call(next++);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return OPS / ((performance.now() - started) / 1000);
}

interface Scenario {
  name: string;
  what: string;
  open(): Cache;
}

const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
const redisUrl = process.env.REDIS_URL ?? redis!.url;
const folder = mkdtempSync(join(tmpdir(), "conveyor-bench-cache-"));
let opened = 0;
const namespace = () => `bench-${process.pid}-${++opened}`;
const memory = (maxEntries = KEYS * 2) => createMemoryCache({ namespace: namespace(), maxEntries });
const redisCache = () => createRedisCache({ url: redisUrl, namespace: namespace(), log: silentLogger });
const disk = () => createDiskCache({ path: folder, namespace: namespace() });

const SCENARIOS: Scenario[] = [
  { name: "memory", what: "@conveyor/memory", open: () => memory() },
  { name: "redis", what: "@conveyor/redis (Keyv + @keyv/redis, one local redis-server)", open: redisCache },
  { name: "disk", what: "@conveyor/disk (SQLite WAL, durability normal)", open: disk },
  {
    name: "tiered",
    what: "memory → redis → disk, every key in the memory tier: reads stop there, writes go to all three",
    open: () => createTieredCache([memory(), redisCache(), disk()]),
  },
  {
    name: "tiered, small memory tier",
    what: `memory tier holds ${Math.round(KEYS / 10)} of ${KEYS} keys: most reads fall through to redis and back-fill memory`,
    open: () => createTieredCache([memory(Math.round(KEYS / 10)), redisCache(), disk()]),
  },
];

const results = new Map<string, { set: number[]; get: number[] }>();
for (const scenario of SCENARIOS) results.set(scenario.name, { set: [], get: [] });

const started = Date.now();
for (let round = 1; round <= ROUNDS; round++) {
  for (const scenario of SCENARIOS) {
    const cache = scenario.open();
    // Warm-up: connections open, every key present.
    for (let i = 0; i < KEYS; i += 500) {
      await cache.setMany(
        Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => ({ key: key(i + j), value: value(i + j) })),
      );
    }
    await collectGarbage();
    const set = await measure((i) => cache.set(key(i), value(i)));
    await collectGarbage();
    // Keys in a scattered order, so a small memory tier keeps missing.
    const get = await measure((i) => cache.get(key((i * 7919) % KEYS)));
    const stats = await cache.stats();
    if (stats.misses > 0)
      throw new Error(`${scenario.name}: ${stats.misses} misses on keys that were all set`);
    await cache.close();
    results.get(scenario.name)!.set.push(set);
    results.get(scenario.name)!.get.push(get);
    console.error(`round ${round} ${scenario.name}: set ${formatRate(set)}/s, get ${formatRate(get)}/s`);
  }
}
await redis?.stop();
rmSync(folder, { recursive: true, force: true });

const rows = SCENARIOS.map((scenario) => {
  const r = results.get(scenario.name)!;
  return [scenario.name, formatRate(median(r.set)), formatRate(median(r.get)), scenario.what];
});
const table = markdownTable(["tier", "set ops/s", "get ops/s", "what"], rows, [
  "left",
  "right",
  "right",
  "left",
]);

let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
} catch {
  // Not a git checkout: the results say so.
}
const cpu = cpus();
const lines = [
  "# Benchmark: cache get/set per tier",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "CPU"}, ${process.platform}/${process.arch}; ${Math.round((Date.now() - started) / 1000)} s in all; sources at ${commit}.`,
  "Command: `pnpm --filter @conveyor/bench bench:cache`",
  "",
  `${OPS.toLocaleString("en-US")} calls per measurement, ${IN_FLIGHT} in flight, over ${KEYS.toLocaleString("en-US")} keys (every get is a hit);`,
  `values are small JSON objects (~100 bytes); ${ROUNDS} interleaved round(s), medians. Redis is a private redis-server without persistence on this machine.`,
  "",
  ...table,
  "",
  "A tiered write awaits every tier, so it costs at least what the slowest tier's write costs (here",
  "disk, one SQLite transaction per call); a read the memory tier answers costs a memory read plus the",
  "tiered wrapper (health check, counters, the in-flight entry its `timeoutMs` watchdog checks).",
  "Disk queue throughput: `disk-queue.md` in this folder (`node adapters/disk/scripts/throughput.mjs`).",
  "",
];
const text = lines.join("\n");
console.log(text);
if (!values["print-only"]) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, text);
  console.error(`wrote ${values.out}`);
}
