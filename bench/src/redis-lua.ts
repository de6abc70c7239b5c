/**
 * Cost in Redis of the queue's hot scripts alone, for one or more sets of Lua sources,
 * interleaved against one private redis-server: add-2 (jobs added in calls of 200) and claim-2
 * (10 jobs claimed per call, each finished in the next call with a completed outcome). Reports
 * per job the least, over the rounds, of the scripts' time (INFO commandstats, the commands they
 * issue included) and of redis-server's CPU time: on a busy machine the least moves much less
 * than a median, so a few per cent between two versions of a script show.
 *
 *   node --import tsx src/redis-lua.ts [lua dir …]   (default: this checkout's adapters/redis/src/queue/lua)
 *
 * A revision's Lua: `git archive REV adapters/redis/src/queue/lua | tar -x -C /tmp/rev`, then
 * pass /tmp/rev/adapters/redis/src/queue/lua. Jobs and rounds: JOBS (10000) and ROUNDS (6).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { startBenchRedis } from "./redis-system.js";

const here = fileURLToPath(new URL("../../adapters/redis/src/queue/lua", import.meta.url));
const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [here];
const jobs = Number(process.env.JOBS ?? 10_000);
const rounds = Number(process.env.ROUNDS ?? 6);

/** A script with its `-- @include <name>` lines pasted in, as the adapter's scripts.ts does. */
function script(dir: string, name: string): string {
  return readFileSync(`${dir}/${name}.lua`, "utf8").replace(
    /^-- @include (\S+)$/gm,
    (_line, include: string) => readFileSync(`${dir}/includes/${include}.lua`, "utf8"),
  );
}

async function redisCpuUs(admin: Redis): Promise<number> {
  const cpu = await admin.info("cpu");
  const read = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? Number.NaN);
  return (read("used_cpu_user") + read("used_cpu_sys")) * 1e6;
}

async function scriptUs(admin: Redis): Promise<number> {
  const stats = await admin.info("commandstats");
  return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? 0);
}

const base = "{lua}:";
const bench = await startBenchRedis();
const { admin } = bench;
const shas = await Promise.all(
  dirs.map(async (dir) => ({
    add: (await admin.script("LOAD", script(dir, "add-2"))) as string,
    claim: (await admin.script("LOAD", script(dir, "claim-2"))) as string,
  })),
);
const best = dirs.map(() => ({
  addScript: Infinity,
  addCpu: Infinity,
  claimScript: Infinity,
  claimCpu: Infinity,
}));

async function measure<T>(run: () => Promise<T>): Promise<[number, number]> {
  await admin.config("RESETSTAT");
  const cpu = await redisCpuUs(admin);
  await run();
  return [(await scriptUs(admin)) / jobs, ((await redisCpuUs(admin)) - cpu) / jobs];
}

try {
  for (let round = 0; round < rounds; round++) {
    for (let v = 0; v < dirs.length; v++) {
      const sha = shas[v]!;
      await admin.flushall();
      const now = Date.now();
      const [addScript, addCpu] = await measure(async () => {
        for (let from = 0; from < jobs; from += 200) {
          const args: (string | number)[] = [];
          for (let i = from; i < Math.min(jobs, from + 200); i++) {
            const id = `job-${i}`;
            const d = JSON.stringify({ id, task: "t", input: { i }, maxAttempts: 3, createdAt: now });
            args.push(id, "default", d, 0, now, now);
          }
          await admin.evalsha(sha.add, 2, `${base}events`, `${base}queues`, base, now, 10_000, ...args);
        }
      });
      const [claimScript, claimCpu] = await measure(async () => {
        let held: string[] = [];
        for (let call = 0; ; call++) {
          const outcomes: (string | number)[] = [];
          for (const id of held) outcomes.push(id, "1", "completed", "null", now + 86_400_000);
          const [claimed, , persisted] = (await admin.evalsha(
            sha.claim,
            2,
            `${base}events`,
            `${base}paused`,
            base,
            Date.now(),
            10_000,
            "w1",
            30_000,
            10,
            held.length,
            call % 20 === 0 ? "1" : "0",
            ...outcomes,
            "default",
          )) as [(string | null)[][], number, number[]];
          if (persisted.some((ok) => ok !== 1)) throw new Error(`${dirs[v]}: an outcome was not persisted`);
          held = claimed.map((fields) => (JSON.parse(fields[1]!) as { id: string }).id);
          if (held.length === 0) break;
        }
      });
      if ((await admin.zcard(`${base}q:default:c`)) !== jobs)
        throw new Error(`${dirs[v]}: not every job completed`);
      const b = best[v]!;
      b.addScript = Math.min(b.addScript, addScript);
      b.addCpu = Math.min(b.addCpu, addCpu);
      b.claimScript = Math.min(b.claimScript, claimScript);
      b.claimCpu = Math.min(b.claimCpu, claimCpu);
    }
  }
} finally {
  await bench.stop();
}
console.log(`${jobs} jobs, ${rounds} rounds, least per job over the rounds (µs)`);
console.log("| lua | add-2 script | add Redis CPU | claim-2 + finish script | claim Redis CPU |");
console.log("| --- | ---: | ---: | ---: | ---: |");
dirs.forEach((dir, v) => {
  const b = best[v]!;
  console.log(
    `| ${dir} | ${b.addScript.toFixed(2)} | ${b.addCpu.toFixed(2)} | ${b.claimScript.toFixed(2)} | ${b.claimCpu.toFixed(2)} |`,
  );
});
process.exit(0);
