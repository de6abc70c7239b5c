// Redis time per call of the hot scripts (claim-0, finish-0, add-0) on a real job flow, from
// INFO commandstats (SLOWLOG=1: per nested command too, from SLOWLOG, which slows every call). From bench/: node --import tsx ../adapters/bee-queue/scripts/lua-cost.mts [jobs]
// CLAIM=file.lua / FINISH=file.lua time a variant of the script instead.

import { silentLogger } from "@conveyor/core";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import redisLib from "redis";
import { createBeeQueue } from "../src/index.js";
import { runScript } from "../src/scripts.js";

const JOBS = Number(process.argv[2] ?? 5000);
const redis = await startRedisServer();
const client = redisLib.createClient({ host: redis.host, port: redis.port });
const call = <T,>(run: (done: (e: Error | null, r: T) => void) => void) =>
  new Promise<T>((resolve, reject) => run((e, r) => (e ? reject(e) : resolve(r))));
/** Per script (named by its SHA's first ARGV shape): µs per call, from SLOWLOG (every call logged). */
async function slowlog(names: Map<string, string>): Promise<void> {
  const entries = await call<[number, number, number, string[]][]>((d) =>
    client.slowlog("get", "-1", d as never),
  );
  const sums = new Map<string, { n: number; us: number }>();
  for (const [, , us, args] of entries) {
    const name = args[0]?.toLowerCase() === "evalsha" ? (names.get(args[1]!) ?? args[1]!) : args[0]!;
    const sum = sums.get(name) ?? { n: 0, us: 0 };
    sum.n++;
    sum.us += us;
    sums.set(name, sum);
  }
  console.log([...sums].map(([name, { n, us }]) => `${name} ${(us / n).toFixed(1)} µs × ${n}`).join(", "));
  await call((d) => client.slowlog("reset", d as never));
}
const SLOWLOG = process.env.SLOWLOG === "1";
/** EVALSHA calls and their µs so far (INFO commandstats). */
async function evalshaStats(): Promise<{ calls: number; usec: number }> {
  const text = await call<string>((d) => client.info("commandstats", d));
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(text);
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}
if (SLOWLOG) await call((d) => client.config("set", "slowlog-log-slower-than", "0", d as never));
await call((d) => client.config("set", "slowlog-max-len", "100000", d as never));
const { createHash } = await import("node:crypto");
const { readFileSync } = await import("node:fs");
const names = new Map<string, string>();
const dir = new URL("../src/lua/", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), "utf8");
const expand = (text: string) =>
  text.replace(/^-- @include (\S+)$/gm, (_l, inc: string) => read(`includes/${inc}.lua`));
for (const name of ["add-0", "claim-0", "finish-0"]) {
  names.set(
    createHash("sha1")
      .update(expand(read(`${name}.lua`)))
      .digest("hex"),
    name,
  );
}
/** A variant of a script to time instead (CLAIM=file, FINISH=file), called by SHA like the real one. */
async function variant(env: string | undefined, name: string): Promise<string | undefined> {
  if (!env) return undefined;
  const source = expand(readFileSync(env, "utf8"));
  const sha = await call<string>((d) => client.script("load", source, d as never));
  names.set(sha, `${name} (${env})`);
  return sha;
}
const claimSha = await variant(process.env.CLAIM, "claim-0");
const finishSha = await variant(process.env.FINISH, "finish-0");
const run = (sha: string | undefined, name: "claim-0" | "finish-0", args: (string | number)[]) =>
  sha ? call((d) => client.evalsha(sha, 0, ...args.map(String), d)) : runScript(client, name, args);

for (let round = 0; round < 3; round++) {
  const prefix = randomPrefix();
  const cv = `${prefix}:#conveyor:`;
  const bq = `${prefix}:`;
  const queue = createBeeQueue({ url: redis.url, prefix, log: silentLogger, checkPersistence: false });
  const now = Date.now();
  const jobs = Array.from({ length: JOBS }, (_, i) => ({
    id: `job-${i}`,
    queue: "q",
    task: "t",
    input: { i },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 3,
  }));
  await queue.add([jobs[0]!]);
  await call((d) => client.slowlog("reset", d as never));
  const beforeAdd = await evalshaStats();
  for (const job of jobs.slice(1)) await queue.add([job]);
  const afterAdd = await evalshaStats();
  console.log(
    `add-0 of one job: ${((afterAdd.usec - beforeAdd.usec) / (afterAdd.calls - beforeAdd.calls)).toFixed(1)} µs per call`,
  );
  // As a busy one-queue worker runs: the first job by BRPOPLPUSH and claim, then each finish
  // takes the next.
  let id = await call<string | null>((d) => client.rpoplpush(`${bq}q:waiting`, `${bq}q:active`, d));
  if (id) await run(claimSha, "claim-0", [cv, bq, Date.now(), id, "w1", 0, "q"]);
  const before = await evalshaStats();
  for (let i = 1; id; i++) {
    const reply = await run(finishSha, "finish-0", [
      cv,
      bq,
      Date.now(),
      id,
      "w1",
      "1",
      "completed",
      "null",
      Date.now() + 86_400_000,
      "q",
      i,
    ]);
    id = Array.isArray(reply) && reply[1] !== "" ? (reply[1] as string) : null;
  }
  const after = await evalshaStats();
  console.log(
    `finish-0 taking the next job: ${((after.usec - before.usec) / (after.calls - before.calls)).toFixed(1)} µs per call (INFO commandstats)`,
  );
  if (SLOWLOG) await slowlog(names);
  await queue.close();
}
client.quit();
await redis.stop();
