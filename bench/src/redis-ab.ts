/**
 * A/B of the Redis queue: this checkout's built @conveyor/redis ("new") against bundles of other
 * revisions or variants (BASE=dir1,dir2, each with dist/index.js and the Lua next to it),
 * interleaved in one process against one redis-server, the whole platform on each (conveyorSide).
 * Reports per system: jobs/s, bulk add/s, Node and Redis CPU µs per job, Redis commands and
 * script calls per job, latency p50/p99, and per-round ratios new/other. Make a BASE of a
 * revision with:
 *
 *   d=/tmp/base; mkdir -p $d && git archive REV adapters/redis/src | tar -x -C $d --strip-components=2
 *   ln -s $PWD/adapters/redis/node_modules $d/node_modules && cp adapters/redis/package.json $d/
 *   (cd $d && npx esbuild src/index.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/index.js)
 *   mkdir -p $d/dist/queue $d/dist/schedules && cp -r $d/src/commands $d/dist/ && cp -r $d/src/queue/lua $d/dist/queue/ && cp -r $d/src/schedules/lua $d/dist/schedules/
 *
 * BASE=/tmp/base node --expose-gc --import tsx src/redis-ab.ts [rounds] [jobs] [concurrencies] [rates, 0 for none]
 */
import { silentLogger } from "@conveyor/core";
import { createRedisQueue } from "@conveyor/redis";
import type { Redis } from "ioredis";
import { conveyorSide } from "./redis-conveyor.js";
import { type RedisBenchSystem, startBenchRedis } from "./redis-system.js";
import { median, percentile } from "./stats.js";

const bases = (process.env.BASE ?? "/tmp/rq/base").split(",");
const baseModules = await Promise.all(
  bases.map(
    async (dir) => (await import(`${dir}/dist/index.js`)) as { createRedisQueue: typeof createRedisQueue },
  ),
);
const rounds = Number(process.argv[2] ?? 3);
const jobs = Number(process.argv[3] ?? 20000);
const concurrencies = (process.argv[4] ?? "10,50").split(",").map(Number);
const rates = (process.argv[5] ?? "200,2000")
  .split(",")
  .map(Number)
  .filter((rate) => rate > 0);
const latencySeconds = Number(process.env.SECONDS_PER_RATE ?? 5);

const systems: [string, RedisBenchSystem][] = [
  [
    "new",
    conveyorSide("new", (round) =>
      createRedisQueue({ url: round.url, prefix: round.name, log: silentLogger, checkPersistence: false }),
    ),
  ],
  ...baseModules.map((module, i): [string, RedisBenchSystem] => {
    const key = i === 0 ? "base" : (bases[i]!.split("/").pop() ?? `base${i}`);
    return [
      key,
      conveyorSide(key, (round) =>
        module.createRedisQueue({
          url: round.url,
          prefix: round.name,
          log: silentLogger,
          checkPersistence: false,
        }),
      ),
    ];
  }),
];

async function serverStats(admin: Redis): Promise<{ cpuUs: number; calls: number; scripts: number }> {
  const cpu = await admin.info("cpu");
  const read = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? Number.NaN);
  const stats = await admin.info("commandstats");
  let calls = 0;
  let scripts = 0;
  for (const m of stats.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    if (m[1] === "info") continue;
    calls += Number(m[2]);
    if (m[1] === "evalsha" || m[1] === "eval") scripts += Number(m[2]);
  }
  return { cpuUs: (read("used_cpu_user") + read("used_cpu_sys")) * 1e6, calls, scripts };
}

const bench = await startBenchRedis();
const inputs = Array.from({ length: Math.max(jobs, ...rates.map((r) => r * latencySeconds)) }, (_, i) => ({
  i,
}));
const results = new Map<string, number[]>();
const push = (key: string, value: number) => {
  const list = results.get(key) ?? [];
  list.push(value);
  results.set(key, list);
};
try {
  for (const [, system] of systems) {
    await system.throughput(bench.round("warm"), {
      inputs: inputs.slice(0, 3000),
      chunk: 1000,
      concurrency: 10,
    });
    await system.latency(bench.round("warm"), {
      inputs: inputs.slice(0, 500),
      concurrency: 10,
      ratePerSecond: 2000,
    });
    await bench.reset();
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? systems : [...systems].reverse();
    for (const c of concurrencies) {
      for (const [key, system] of order) {
        await bench.reset();
        await bench.admin.config("RESETSTAT");
        const before = await serverStats(bench.admin);
        const run = await system.throughput(bench.round(key), {
          inputs: inputs.slice(0, jobs),
          chunk: 1000,
          concurrency: c,
        });
        const after = await serverStats(bench.admin);
        push(`${key} c${c} jobs/s`, (jobs / run.processMs) * 1000);
        push(`${key} c${c} add/s`, (jobs / run.addMs) * 1000);
        push(`${key} c${c} node µs`, run.processCpuUs / jobs);
        push(`${key} c${c} redis µs`, (after.cpuUs - before.cpuUs) / jobs);
        push(`${key} c${c} cmds/job`, (after.calls - before.calls) / jobs);
        push(`${key} c${c} scripts/job`, (after.scripts - before.scripts) / jobs);
        console.error(`r${r} c${c} ${key}: ${((jobs / run.processMs) * 1000).toFixed(0)} jobs/s`);
      }
    }
    for (const rate of rates) {
      for (const [key, system] of order) {
        await bench.reset();
        const n = rate * latencySeconds;
        const run = await system.latency(bench.round(key), {
          inputs: inputs.slice(0, n),
          concurrency: 10,
          ratePerSecond: rate,
        });
        const l = new Float64Array(n);
        for (let i = 0; i < n; i++) l[i] = run.ended[i]! - run.started[i]!;
        l.sort();
        push(`${key} ${rate}/s p50`, percentile(l, 50));
        push(`${key} ${rate}/s p99`, percentile(l, 99));
        console.error(
          `r${r} ${rate}/s ${key}: p50 ${percentile(l, 50).toFixed(2)} p99 ${percentile(l, 99).toFixed(2)}`,
        );
      }
    }
  }
} finally {
  await bench.stop();
}
const metrics = new Set([...results.keys()].map((k) => k.slice(k.indexOf(" ") + 1)));
const keys = systems.map(([key]) => key);
console.log(
  `| metric | ${keys.join(" | ")} | ${keys
    .slice(1)
    .map((k) => `new/${k}`)
    .join(" | ")} |`,
);
console.log(
  `| --- | ${keys.map(() => "---:").join(" | ")} | ${keys
    .slice(1)
    .map(() => "---:")
    .join(" | ")} |`,
);
for (const m of metrics) {
  const a = results.get(`new ${m}`) ?? [];
  const cells = keys.map((k) => median(results.get(`${k} ${m}`) ?? []).toFixed(2));
  const ratios = keys.slice(1).map((k) => {
    const b = results.get(`${k} ${m}`) ?? [];
    return median(a.map((v, i) => v / b[i]!)).toFixed(2);
  });
  console.log(`| ${m} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`);
}
process.exit(0);
