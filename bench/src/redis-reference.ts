import { Redis } from "ioredis";
import { type RedisBenchSystem, type RedisJobInput, type RedisRound, Seen } from "./redis-system.js";
import { cpuSince, paced } from "./system.js";

/**
 * The ceiling: the least a list-based queue can do on Redis, with none of a real queue's
 * guarantees (no job ids, leases, retries, results or events; a crashed worker's jobs stay in
 * the processing list). LPUSH to add, BLMOVE to a processing list to claim, LREM to ack. The
 * slots share one blocking connection and one command connection, the fastest layout PERF.md
 * found.
 */
function clients(round: RedisRound) {
  const options = { host: round.host, port: round.port };
  return { client: new Redis(options), blocking: new Redis(options) };
}

async function consume(
  round: RedisRound,
  client: Redis,
  blocking: Redis,
  concurrency: number,
  until: () => boolean,
  done: (input: RedisJobInput) => void,
): Promise<void> {
  const processing = `${round.name}:processing`;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!until()) {
        const job = await blocking.blmove(round.name, processing, "RIGHT", "LEFT", 0.05);
        if (job === null) continue;
        const input = JSON.parse(job) as RedisJobInput;
        await client.lrem(processing, 1, job);
        done(input);
      }
    }),
  );
}

/** LPUSH + BLMOVE + LREM on bare ioredis. */
export const referenceSystem: RedisBenchSystem = {
  label: "reference",

  async throughput(round, { inputs, chunk, concurrency }) {
    const { client, blocking } = clients(round);
    try {
      const batches: string[][] = [];
      for (let from = 0; from < inputs.length; from += chunk) {
        batches.push(inputs.slice(from, from + chunk).map((input) => JSON.stringify(input)));
      }
      const start = performance.now();
      for (const batch of batches) await client.lpush(round.name, ...batch);
      const added = performance.now();
      const cpu = process.cpuUsage();
      let count = 0;
      let end = 0;
      // Every LREM has been answered when a slot counts its job: nothing is left to confirm.
      await consume(
        round,
        client,
        blocking,
        concurrency,
        () => count === inputs.length,
        () => {
          if (++count === inputs.length) end = performance.now();
        },
      );
      return { addMs: added - start, processMs: end - added, processCpuUs: cpuSince(cpu) };
    } finally {
      client.disconnect();
      blocking.disconnect();
    }
  },

  async latency(round, { inputs, concurrency, ratePerSecond }) {
    const { client, blocking } = clients(round);
    const producer = new Redis({ host: round.host, port: round.port });
    const started = new Float64Array(inputs.length);
    const seen = new Seen(inputs.length, this.label);
    let count = 0;
    try {
      const consuming = consume(
        round,
        client,
        blocking,
        concurrency,
        () => count === inputs.length,
        (input) => {
          count++;
          seen.completed(input.i);
        },
      );
      const fail = (error: Error) => seen.fail(error);
      await paced(inputs.length, ratePerSecond, (i) => {
        started[i] = performance.now();
        producer.lpush(round.name, JSON.stringify(inputs[i]!)).catch(fail);
      });
      await seen.done;
      await consuming;
      return { started, ended: seen.ended };
    } finally {
      client.disconnect();
      blocking.disconnect();
      producer.disconnect();
    }
  },
};
