/**
 * Where the enqueue → completion time of the Redis queue goes, stage by stage, for the slowest
 * jobs of a paced run (the p99 tail): every Redis command of the process is timed (sent, answered)
 * and matched to the jobs it carries.
 *
 * node --import tsx src/redis-probe.ts [ratePerSecond] [seconds] [concurrency]
 */

import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { createConveyor, defineTask, silentLogger } from "@conveyor/core";
import { createMemoryCache, createMemoryRateLimiter } from "@conveyor/memory";
import { createRedisQueue } from "@conveyor/redis";
import { Redis } from "ioredis";
import { startBenchRedis } from "./redis-system.js";
import { paced } from "./system.js";

interface Sent {
  conn: string;
  name: string;
  args: unknown[];
  sentAt: number;
  repliedAt: number;
  reply: unknown;
}
const log: Sent[] = [];
const proto = Redis.prototype as unknown as {
  sendCommand(
    this: Redis,
    command: { name: string; args: unknown[]; promise: Promise<unknown> },
    ...rest: unknown[]
  ): unknown;
};
const original = proto.sendCommand;
proto.sendCommand = function (command, ...rest) {
  const entry: Sent = {
    conn: String((this.options as { connectionName?: string }).connectionName ?? "?"),
    name: command.name,
    args: command.args,
    sentAt: performance.now(),
    repliedAt: 0,
    reply: undefined,
  };
  log.push(entry);
  command.promise?.then(
    (reply) => {
      entry.repliedAt = performance.now();
      entry.reply = reply;
    },
    () => {
      entry.repliedAt = -1;
    },
  );
  return original.call(this, command, ...rest);
};

const rate = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 5);
const concurrency = Number(process.argv[4] ?? 10);
const n = rate * seconds;
const ran = new Float64Array(n + 1);
const idOf: string[] = [];
const task = defineTask({
  name: "bench.noop",
  run: (input: { i: number }) => {
    if (input.i >= 0) ran[input.i] = performance.now();
    return null;
  },
});

const bench = await startBenchRedis();
const round = bench.round("probe");
const conveyor = await createConveyor({
  queue: createRedisQueue({ url: round.url, prefix: round.name, log: silentLogger, checkPersistence: false }),
  cache: createMemoryCache(),
  rateLimiter: createMemoryRateLimiter(),
  tasks: [task],
  logger: false,
  env: false,
});
const started = new Float64Array(n);
const addedAt = new Float64Array(n);
const seenAt = new Map<string, number>();
let seen = 0;
let done!: () => void;
const all = new Promise<void>((resolve) => {
  done = resolve;
});
const unsubscribe = await conveyor.queue.subscribe(
  (event) => {
    if (event.type !== "completed") return;
    seenAt.set(event.jobId, performance.now());
    if (++seen === n + 1) done();
  },
  { queue: "default" },
);
conveyor.worker({ concurrency });
await (await conveyor.enqueue(task, { i: -1 })).result({ timeoutMs: 30_000 });
log.length = 0;
const gcs: { at: number; ms: number; kind: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push({
      at: e.startTime,
      ms: e.duration,
      kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0,
    });
});
gcObserver.observe({ entryTypes: ["gc"] });
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const t0 = performance.now();
await paced(n, rate, (i) => {
  started[i] = performance.now();
  conveyor.enqueue(task, { i }).then((job) => {
    addedAt[i] = performance.now();
    idOf[i] = job.id;
  });
});
await all;
loopDelay.disable();
gcObserver.disconnect();
await unsubscribe();
await conveyor.close();

// Per job: the add, the claim that took it, the call that persisted its outcome, the XREAD that delivered it.
const scriptOf = (e: Sent) => (e.name === "evalsha" || e.name === "eval" ? `${e.args[1]}keys` : e.name);
const addOf = new Map<string, Sent>();
const claimOf = new Map<string, Sent>();
const outcomeOf = new Map<string, Sent>();
const xreadOf = new Map<string, Sent>();
for (const e of log) {
  if (e.name === "evalsha" && e.conn === "conveyor:queue") {
    const args = e.args.map(String);
    // add-2: keys events, queues; ARGV base now maxlen then 6 per job
    if (args[2]?.endsWith("events") && args[3]?.endsWith("queues")) {
      for (let i = 7; i < args.length; i += 6) addOf.set(args[i]!, e);
    } else if (args[3]?.endsWith("paused")) {
      // claim-2: 2 keys; ARGV[7] = n, outcomes from ARGV[9]
      // args: sha, numkeys, KEYS[1], KEYS[2], then ARGV[k] at 3 + k
      const nOut = Number(args[10]);
      const first = 12;
      for (let k = 0; k < nOut; k++) outcomeOf.set(args[first + k * 5]!, e);
      const reply = e.reply as [unknown[][], number, number[]] | undefined;
      for (const fields of reply?.[0] ?? []) {
        const id = (JSON.parse(String(fields[1])) as { id: string }).id;
        claimOf.set(id, e);
      }
    }
  }
  if (e.name === "xread") {
    const reply = e.reply as [string, [string, string[]][]][] | null;
    for (const [, entries] of reply ?? []) {
      for (const [, fields] of entries) {
        const j = fields[fields.indexOf("j") + 1]!;
        if (fields[fields.indexOf("t") + 1] === "completed") xreadOf.set(j, e);
      }
    }
  }
}
const blpops = log.filter((e) => e.name === "blpop");
/** Per job: ms after its add call when each stage happened (NaN: not seen). */
interface Row {
  i: number;
  total: number;
  addSent: number;
  addReply: number;
  added: number;
  wake: number;
  claimSent: number;
  claimReply: number;
  ran: number;
  outSent: number;
  outReply: number;
  xread: number;
  seen: number;
}
const rows: Row[] = [];
for (let i = 0; i < n; i++) {
  const id = idOf[i]!;
  const add = addOf.get(id);
  const claim = claimOf.get(id);
  const out = outcomeOf.get(id);
  const x = xreadOf.get(id);
  const s = started[i]!;
  const wake = claim
    ? blpops.filter((b) => b.repliedAt > 0 && b.repliedAt <= claim.sentAt).at(-1)
    : undefined;
  const r = (v: number | undefined) => (v === undefined || v <= 0 ? Number.NaN : +(v - s).toFixed(2));
  rows.push({
    i,
    total: r(seenAt.get(id)),
    addSent: r(add?.sentAt),
    addReply: r(add?.repliedAt),
    added: r(addedAt[i]),
    wake: r(wake?.repliedAt),
    claimSent: r(claim?.sentAt),
    claimReply: r(claim?.repliedAt),
    ran: r(ran[i]),
    outSent: r(out?.sentAt),
    outReply: r(out?.repliedAt),
    xread: r(x?.repliedAt),
    seen: r(seenAt.get(id)),
  });
}
rows.sort((a, b) => a.total - b.total);
const stages: [string, keyof Row, keyof Row][] = [
  ["call→add sent", "i", "addSent"],
  ["add in Redis", "addSent", "addReply"],
  ["add reply→claim sent", "addReply", "claimSent"],
  ["claim in Redis", "claimSent", "claimReply"],
  ["claim reply→ran", "claimReply", "ran"],
  ["ran→outcome sent", "ran", "outSent"],
  ["outcome in Redis", "outSent", "outReply"],
  ["outcome reply→xread", "outReply", "xread"],
  ["xread→seen", "xread", "seen"],
];
const pct = (values: number[], q: number) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * q) / 100))]?.toFixed(2);
};
const tail = rows.slice(Math.floor(rows.length * 0.98));
console.table(
  stages.map(([label, from, to]) => {
    const d = (row: Row) => (from === "i" ? 0 : (row[from] as number));
    const all = rows.map((row) => (row[to] as number) - d(row));
    return {
      stage: label,
      p50: pct(all, 50),
      p90: pct(all, 90),
      p99: pct(all, 99),
      max: pct(all, 100),
      "mean in slowest 2%": (
        tail.reduce((sum, row) => sum + ((row[to] as number) - d(row) || 0), 0) / tail.length
      ).toFixed(2),
    };
  }),
);
const p = (q: number) => rows[Math.min(rows.length - 1, Math.floor((rows.length * q) / 100))]!.total;
console.log(
  `rate ${rate}/s, ${n} jobs, c${concurrency}: p50 ${p(50)} ms, p90 ${p(90)}, p99 ${p(99)}, max ${rows.at(-1)!.total}`,
);
console.table(rows.slice(Math.floor(rows.length * 0.98)));
console.table(rows.slice(Math.floor(rows.length * 0.5), Math.floor(rows.length * 0.5) + 3));
const counts = new Map<string, number>();
for (const e of log)
  counts.set(`${e.conn} ${scriptOf(e)}`, (counts.get(`${e.conn} ${scriptOf(e)}`) ?? 0) + 1);
console.log([...counts].map(([k, v]) => `${k}: ${v}`).join("\n"));
console.log(
  `GC: ${gcs.length} pauses, ${gcs.reduce((a, g) => a + g.ms, 0).toFixed(1)} ms in all, longest ${Math.max(0, ...gcs.map((g) => g.ms)).toFixed(2)} ms; over 2 ms: ${gcs
    .filter((g) => g.ms > 2)
    .map((g) => `${(g.at - t0).toFixed(0)}:${g.ms.toFixed(1)}ms/k${g.kind}`)
    .join(" ")}`,
);
console.log(
  `event-loop delay: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(2)}, max ${(loopDelay.max / 1e6).toFixed(2)}`,
);
console.log(`run ${(performance.now() - t0).toFixed(0)} ms`);
await bench.stop();
process.exit(0);
