#!/usr/bin/env node
/**
 * Measures ops/s of the Redis cache (get, set) and rate limiter (consume) with 50 calls in
 * flight against one ephemeral redis-server (no persistence), next to the bare clients they
 * are built on, in interleaved rounds (medians).
 *
 * Usage (after `npx -y pnpm@10.34.8 build`):
 *   node adapters/redis/scripts/measure.mjs [--ops 20000] [--rounds 5] [--inflight 50]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { silentLogger } from "@conveyor/core";
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { randomPrefix, startRedisServer } from "@conveyor/testing";
import { createClient } from "@keyv/redis";
import { Redis } from "ioredis";

const { values } = parseArgs({
  options: {
    ops: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    inflight: { type: "string", default: "50" },
  },
});
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);
const INFLIGHT = Number(values.inflight);

/**
 * Runs `op(i)` OPS times with INFLIGHT calls in flight; returns ops/s and this process's CPU
 * time per op in µs (steadier than wall time on a shared machine: it leaves out waiting).
 */
async function measure(op) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < OPS) await op(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { opsPerSecond: OPS / seconds, cpuUs: (used.user + used.system) / OPS };
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const redis = await startRedisServer();
const value = { text: "hola", source: "en", target: "es", chars: 4 };
const json = JSON.stringify(value);
const keys = 1_000;
try {
  const ioredis = new Redis(redis.url);
  // The limiter's own script on bare clients: what the limiter adds on top of one EVALSHA.
  const consumeLua = readFileSync(new URL("../src/commands/consume-1.lua", import.meta.url), "utf8");
  const consumeSha = await ioredis.script("LOAD", consumeLua);
  const ioredisPipelined = new Redis(redis.url, { enableAutoPipelining: true });
  const nodeRedis = createClient({ url: redis.url });
  nodeRedis.on("error", (error) => console.error("node-redis:", error.message));
  await nodeRedis.connect();
  const cache = createRedisCache({ url: redis.url, namespace: randomPrefix(), log: silentLogger });
  const limiter = createRedisRateLimiter({ url: redis.url, prefix: `${randomPrefix()}:`, log: silentLogger });
  const limit = { points: 1_000_000, durationMs: 60_000 };

  const cases = {
    "cache set": (i) => cache.set(`k${i % keys}`, value),
    "cache get": (i) => cache.get(`k${i % keys}`),
    "limiter consume": (i) => limiter.consume(`u${i % keys}`, limit),
    "bare ioredis EVALSHA consume-1.lua": (i) =>
      ioredis.evalsha(consumeSha, 1, `bare:u${i % keys}`, 1_000_000, 60_000, 0, 1),
    "bare ioredis auto-pipelined EVALSHA consume-1.lua": (i) =>
      ioredisPipelined.evalsha(consumeSha, 1, `bare:u${i % keys}`, 1_000_000, 60_000, 0, 1),
    "bare ioredis set (JSON.stringify)": (i) => ioredis.set(`bare:k${i % keys}`, JSON.stringify(value)),
    "bare ioredis get (JSON.parse)": async (i) =>
      JSON.parse((await ioredis.get(`bare:k${i % keys}`)) ?? json),
    "bare ioredis auto-pipelined set": (i) =>
      ioredisPipelined.set(`bare:k${i % keys}`, JSON.stringify(value)),
    "bare ioredis auto-pipelined get": async (i) =>
      JSON.parse((await ioredisPipelined.get(`bare:k${i % keys}`)) ?? json),
    "bare node-redis set": (i) => nodeRedis.set(`bare:k${i % keys}`, JSON.stringify(value)),
    "bare node-redis get": async (i) => JSON.parse((await nodeRedis.get(`bare:k${i % keys}`)) ?? json),
  };
  const results = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  // Warm up every path once, then interleave the rounds so drift hits every case alike.
  for (const op of Object.values(cases)) await measure(op);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of Object.entries(cases)) results[name].push(await measure(op));
  }

  const ops = (name) => median(results[name].map((r) => r.opsPerSecond));
  const cpu = (name) => median(results[name].map((r) => r.cpuUs));
  const bare = {
    "cache set": "bare ioredis auto-pipelined set",
    "cache get": "bare ioredis auto-pipelined get",
    "limiter consume": "bare ioredis auto-pipelined EVALSHA consume-1.lua",
  };
  console.log(
    `redis-server ${redis.url}, ${OPS} ops per run, ${INFLIGHT} in flight, median of ${ROUNDS} rounds`,
  );
  console.log(
    "| operation | ops/s | Node CPU µs/op | ops/s vs the same call on auto-pipelined bare ioredis |",
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const name of Object.keys(cases)) {
    const ratio = bare[name] ? `${(ops(name) / ops(bare[name])).toFixed(2)}x` : "";
    const row = [name, Math.round(ops(name)).toLocaleString("en-US"), cpu(name).toFixed(1), ratio];
    console.log(`| ${row.join(" | ")} |`);
  }

  await cache.clear();
  await cache.close();
  await limiter.close();
  ioredis.disconnect();
  ioredisPipelined.disconnect();
  await nodeRedis.close();
} finally {
  await redis.stop();
}
