/**
 * Cost per job of the Redis queue adapter alone (no core runtime): Node CPU, Redis CPU, Redis
 * commands (INFO commandstats, script-issued ones included) and round trips, separately for the
 * bulk add and for processing. Measures that hold on a busy machine, unlike jobs/s.
 *
 * node --expose-gc --import tsx src/redis-cost.ts [jobs] [concurrency] [rounds] [module]
 * (module: a path to another build of @conveyor/redis, e.g. /tmp/base/dist/index.js)
 */

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import type { NewJob, Outcome } from "@conveyor/core";
import type { createRedisQueue as CreateRedisQueue } from "@conveyor/redis";
import type { Redis } from "ioredis";
import { startBenchRedis } from "./redis-system.js";
import { median } from "./stats.js";

const jobs = Number(process.argv[2] ?? 20000);
const concurrency = Number(process.argv[3] ?? 10);
const rounds = Number(process.argv[4] ?? 3);
const modulePath = process.argv[5];
const { createRedisQueue } = (await import(modulePath ?? "@conveyor/redis")) as {
  createRedisQueue: typeof CreateRedisQueue;
};

interface ServerStats {
  cpuUs: number;
  commands: Map<string, number>;
  usec: Map<string, number>;
}
async function serverStats(admin: Redis): Promise<ServerStats> {
  const [cpu, stats] = await Promise.all([admin.info("cpu"), admin.info("commandstats")]);
  const read = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? Number.NaN);
  const commands = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of stats.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    commands.set(m[1]!, Number(m[2]));
    usec.set(m[1]!, Number(m[3]));
  }
  return { cpuUs: (read("used_cpu_user") + read("used_cpu_sys")) * 1e6, commands, usec };
}
/** Per job: calls of each command, and µs Redis spent in it (a script's time includes its commands'). */
function perJob(before: ServerStats, after: ServerStats): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const [name, calls] of after.commands) {
    if (name === "info" || name === "config|resetstat") continue;
    const n = (calls - (before.commands.get(name) ?? 0)) / jobs;
    const us = ((after.usec.get(name) ?? 0) - (before.usec.get(name) ?? 0)) / jobs;
    if (n > 0) out.set(name, [n, us]);
  }
  return out;
}
const cpuUs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

const bench = await startBenchRedis();
const results = new Map<string, number[]>();
const push = (key: string, value: number) => results.set(key, [...(results.get(key) ?? []), value]);
const commandsOf = new Map<string, Map<string, [number, number]>>();
try {
  for (let r = 0; r < rounds + 1; r++) {
    const warm = r === 0;
    await bench.reset();
    const round = bench.round("cost");
    const queue = createRedisQueue({ url: round.url, prefix: round.name, checkPersistence: false });
    await queue.counts("default");
    const now = Date.now();
    const all: NewJob[] = Array.from({ length: jobs }, (_, i) => ({
      id: `job-${i}`,
      queue: "default",
      task: "bench.noop",
      input: { i },
      priority: 0,
      runAt: now,
      createdAt: now,
      maxAttempts: 3,
    }));
    let s0 = await serverStats(bench.admin);
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    for (let i = 0; i < jobs; i += 1000) await queue.add(all.slice(i, i + 1000));
    const addMs = performance.now() - t0;
    const addNode = cpuUs(c0);
    let s1 = await serverStats(bench.admin);
    if (!warm) {
      push("add jobs/s", (jobs / addMs) * 1000);
      push("add Node µs/job", addNode / jobs);
      push("add Redis µs/job", (s1.cpuUs - s0.cpuUs) / jobs);
      commandsOf.set("add", perJob(s0, s1));
    }
    let ran = 0;
    let allRan!: () => void;
    const done = new Promise<void>((resolve) => {
      allRan = resolve;
    });
    const profiling = process.env.PROFILE !== undefined && r === rounds;
    const session = new Session();
    if (profiling) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    s0 = await serverStats(bench.admin);
    c0 = process.cpuUsage();
    t0 = performance.now();
    const consumer = queue.consume(
      { queues: ["default"], concurrency, workerId: "w1" },
      async (): Promise<Outcome> => {
        if (++ran === jobs) allRan();
        return { type: "completed", result: null, expiresAt: Date.now() + 86_400_000 };
      },
    );
    await done;
    while ((await queue.counts("default")).completed < jobs)
      await new Promise((resolve) => setTimeout(resolve, 1));
    const processMs = performance.now() - t0;
    const processNode = cpuUs(c0);
    s1 = await serverStats(bench.admin);
    if (profiling) {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(process.env.PROFILE!, JSON.stringify(profile));
      session.disconnect();
    }
    if (!warm) {
      push("process jobs/s", (jobs / processMs) * 1000);
      push("process Node µs/job", processNode / jobs);
      push("process Redis µs/job", (s1.cpuUs - s0.cpuUs) / jobs);
      commandsOf.set("process", perJob(s0, s1));
    }
    await consumer.close();
    await queue.close();
  }
} finally {
  await bench.stop();
}
console.log(
  `${jobs} jobs, concurrency ${concurrency}, ${rounds} rounds (medians)${modulePath ? `, ${modulePath}` : ""}`,
);
for (const [key, values] of results) console.log(`  ${key}: ${median(values).toFixed(1)}`);
for (const [phase, commands] of commandsOf) {
  const total = [...commands.values()].reduce((a, [n]) => a + n, 0);
  const list = [...commands]
    .sort((a, b) => b[1][1] - a[1][1])
    .map(([name, [n, us]]) => `${name} ${n.toFixed(2)} (${us.toFixed(1)} µs)`)
    .join(", ");
  console.log(`  ${phase} commands/job ${total.toFixed(2)}: ${list}`);
}
process.exit(0);
