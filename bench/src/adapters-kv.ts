/**
 * The cache and limiter sides of `bench:adapters` (see adapters.ts): bare ioredis GET/SET (values
 * as JSON, as an application stores them) against `@conveyor/redis`'s cache, and bare
 * rate-limiter-flexible (`RateLimiterRedis` on ioredis) against `@conveyor/redis`'s limiter.
 */
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";

/** One kind of call, opened fresh for each measurement. */
export interface CallSide {
  readonly label: string;
  /** Connects and prepares (e.g. writes every key a get will read); answers the call to time. */
  open(url: string, prefix: string): Promise<{ call(i: number): Promise<unknown>; close(): Promise<void> }>;
}

/** A bare library call and ours, measured side by side. */
export interface CallPair {
  readonly key: string;
  readonly scenario: string;
  readonly bare: CallSide;
  readonly ours: CallSide;
}

/** Distinct keys the calls spread over. */
export const KEYS = 10_000;
const keyOf = (i: number) => `bench:${i % KEYS}`;
// A value the size of a typical cached task result: a few fields and a short text (~100 bytes).
const entryValue = (i: number) => ({
  id: i,
  text: `translated sentence number ${i} `.repeat(3),
  score: i / 7,
});

function ioredis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3 });
}

/** Bare ioredis with its defaults, values JSON-encoded. */
function bareCache(
  fill: boolean,
  call: (redis: Redis, key: string, i: number) => Promise<unknown>,
): CallSide {
  return {
    label: "ioredis",
    async open(url, prefix) {
      const redis = ioredis(url);
      if (fill) await writeAll((key, i) => redis.set(prefix + key, JSON.stringify(entryValue(i))));
      return {
        call: (i) => call(redis, prefix + keyOf(i), i),
        close: async () => void (await redis.quit()),
      };
    },
  };
}

/** `@conveyor/redis`'s cache (Keyv + @keyv/redis), its defaults. */
function ourCache(
  fill: boolean,
  call: (cache: ReturnType<typeof createRedisCache>, key: string, i: number) => Promise<unknown>,
): CallSide {
  return {
    label: "Conveyor redis cache",
    async open(url, prefix) {
      const cache = createRedisCache({ url, prefix });
      if (fill) await writeAll((key, i) => cache.set(key, entryValue(i)));
      else await cache.get("warm"); // connected before the clock starts
      return { call: (i) => call(cache, keyOf(i), i), close: () => cache.close() };
    },
  };
}

/** Writes every key once, 100 in flight, so every timed get is a hit. */
async function writeAll(set: (key: string, i: number) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < KEYS; from += 100) {
    const writes: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(KEYS, from + 100); i++) writes.push(set(keyOf(i), i));
    await Promise.all(writes);
  }
}

// A limit no call reaches, so every consume is granted and both sides do the same work.
const POINTS = 1_000_000_000;
const DURATION_S = 60;

export const callPairs: readonly CallPair[] = [
  {
    key: "cache-get",
    scenario: "cache get (hit)",
    bare: bareCache(true, async (redis, key) => {
      const text = await redis.get(key);
      return text === null ? undefined : JSON.parse(text);
    }),
    ours: ourCache(true, (cache, key) => cache.get(key)),
  },
  {
    key: "cache-set",
    scenario: "cache set",
    bare: bareCache(false, (redis, key, i) => redis.set(key, JSON.stringify(entryValue(i)))),
    ours: ourCache(false, (cache, key, i) => cache.set(key, entryValue(i))),
  },
  {
    key: "limiter",
    scenario: "rate limiter consume",
    bare: {
      label: "rate-limiter-flexible",
      async open(url, prefix) {
        const redis = ioredis(url);
        await redis.ping();
        const limiter = new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: prefix,
          points: POINTS,
          duration: DURATION_S,
        });
        return { call: (i) => limiter.consume(keyOf(i)), close: async () => void (await redis.quit()) };
      },
    },
    ours: {
      label: "Conveyor redis limiter",
      async open(url, prefix) {
        const limiter = createRedisRateLimiter({ url, prefix });
        const limit = { points: POINTS, durationMs: DURATION_S * 1000 };
        await limiter.peek("warm", limit);
        return { call: (i) => limiter.consume(keyOf(i), limit), close: () => limiter.close() };
      },
    },
  },
];

/** Runs `call(0 … total-1)` with `inFlight` calls outstanding at a time; answers calls per second. */
export async function callsPerSecond(
  total: number,
  inFlight: number,
  call: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < total) await call(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return (total / (performance.now() - start)) * 1000;
}
