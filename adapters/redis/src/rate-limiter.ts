import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  ClosedError,
  ConfigError,
  consoleLogger,
  type RateLimit,
  type RateLimiter,
  type RateLimiterFactory,
  type RateLimitResult,
  withInsurance,
} from "@conveyor/core";
import type { Cluster, Redis } from "ioredis";
import { acquire, ioredisDriver, type RedisConnectionOptions, toBackendError } from "./connection.js";
import { checkLimit, createLocalRateLimiter } from "./limits.js";
import { givenClientTarget, parseRedisUrl, type RedisTarget } from "./url.js";

/**
 * Options of {@link createRedisRateLimiter}.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterOptions } from "@conveyor/redis";
 * const options: RedisRateLimiterOptions = { url: "redis://localhost:6379/0", prefix: "myapp:rl:" };
 * ```
 */
export interface RedisRateLimiterOptions extends RedisConnectionOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`) to use instead of `url`. The limiter neither connects
   * nor closes it.
   * @defaultValue none: the limiter shares one connection per URL in this process
   */
  client?: Redis | Cluster;
  /**
   * Prefix of every key the limiter writes; limiters with different prefixes count apart.
   * @defaultValue `"conveyor:rl:"`
   */
  prefix?: string;
  /**
   * The limiter that answers while Redis is unreachable (see `withInsurance` in
   * `@conveyor/core`); `false` to throw `BackendUnavailableError` instead.
   * @defaultValue an in-process fixed-window limiter, so limits hold per process during an outage
   */
  insurance?: RateLimiter | false;
}

const DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  prefix: "conveyor:rl:",
  insurance: undefined,
} satisfies RedisRateLimiterOptions;

/** A Lua script called by SHA. */
interface Script {
  readonly lua: string;
  readonly sha: string;
}

let scripts: { consume: Script; peek: Script } | undefined;
/** The Lua sources, read once; they sit next to this module in src/ and next to the bundle in dist/. */
function loadScripts() {
  const read = (name: string): Script => {
    const lua = readFileSync(new URL(`./commands/${name}`, import.meta.url), "utf8");
    return { lua, sha: createHash("sha1").update(lua).digest("hex") };
  };
  scripts ??= { consume: read("consume-1.lua"), peek: read("peek-1.lua") };
  return scripts;
}

/**
 * EVALSHA, falling back to EVAL when the server does not know the script (first use, a restart,
 * SCRIPT FLUSH); EVAL caches it again. Plain EVALSHA rather than ioredis's `defineCommand`: the
 * client auto-pipelines, and for a defined command ioredis checks the script of every pipeline it
 * builds, which cost more Node CPU per call than it saved.
 */
function runScript<T>(client: Redis | Cluster, script: Script, key: string, ...args: (string | number)[]) {
  return client.evalsha(script.sha, 1, key, ...args).catch((error: unknown) => {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return client.eval(script.lua, 1, key, ...args);
  }) as Promise<T>;
}

/** What consume-1.lua answers: allowed (1 | 0), remaining, resetMs, consumed. */
type ConsumeReply = [number, string, number, string];

/** Redis expiries are whole milliseconds, at least one. */
const wholeMs = (ms: number) => Math.max(1, Math.ceil(ms));

/**
 * The limiter on Redis alone, without insurance: each `consume` is one Lua script (`consume-1.lua`),
 * so concurrent calls from any number of processes never grant more than `points` per window.
 */
function createBareRedisRateLimiter(
  options: RedisRateLimiterOptions & { url: string; prefix: string },
): RateLimiter {
  let target: RedisTarget;
  let client: Redis | Cluster;
  let ready: () => Promise<void> | undefined;
  let release: () => Promise<void>;
  if (options.client) {
    client = options.client;
    target = givenClientTarget();
    ready = () => undefined;
    release = async () => {};
  } else {
    const lease = acquire(ioredisDriver, "rate-limiter", parseRedisUrl(options.url).target, options);
    ({ client, target } = lease);
    ready = () => lease.ready();
    release = () => lease.release();
  }
  const lua = loadScripts();
  const { prefix } = options;
  let closed = false;

  const fail = (error: unknown): never => {
    throw toBackendError(target, error);
  };

  /**
   * Runs a backend call behind the connection gate. Plain promise chaining rather than nested
   * async functions: a consume is on every rate-limited job's path.
   */
  const call = <T>(run: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ClosedError("this Redis rate limiter", { scope: "redis" }));
    const waiting = ready();
    return (waiting === undefined ? run() : waiting.then(run)).catch(fail);
  };

  const toResult = ([allowed, remaining, resetMs, consumed]: ConsumeReply) => ({
    allowed: allowed === 1,
    remaining: Number(remaining),
    resetMs,
    consumed: Number(consumed),
  });

  return {
    name: "redis",

    consume(key: string, limit: RateLimit, cost = 1): Promise<RateLimitResult> {
      try {
        checkLimit(limit, cost);
      } catch (error) {
        return Promise.reject(error);
      }
      const block = limit.blockDurationMs ? wholeMs(limit.blockDurationMs) : 0;
      const duration = wholeMs(limit.durationMs);
      return call(() =>
        runScript<ConsumeReply>(client, lua.consume, prefix + key, limit.points, duration, block, cost).then(
          toResult,
        ),
      );
    },

    async peek(key: string, limit: RateLimit): Promise<RateLimitResult> {
      checkLimit(limit, 0);
      const [consumedText, blocked, resetMs] = await call(() =>
        runScript<[string, number, number]>(client, lua.peek, prefix + key),
      );
      const consumed = Number(consumedText);
      if (blocked === 1) return { allowed: false, remaining: 0, resetMs, consumed };
      if (resetMs <= 0) return { allowed: true, remaining: limit.points, resetMs: 0, consumed: 0 };
      const remaining = Math.max(0, limit.points - consumed);
      return { allowed: remaining > 0, remaining, resetMs, consumed };
    },

    async reset(key: string): Promise<void> {
      await call(() => client.unlink(prefix + key));
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await release();
    },
  };
}

/**
 * Creates a rate limiter on Redis: a fixed window per key that opens at the key's first
 * `consume` and lasts `durationMs` (millisecond precision, from Redis's own clock, so every
 * process agrees), at most `points` granted in it, a refused call taking nothing, and with
 * `blockDurationMs` a key that asks past its points refused for that long. Each call is one
 * atomic Lua script. Limiters of the same URL share one connection in the process.
 *
 * While Redis is unreachable an in-process insurance limiter answers (limits then hold per
 * process), one warning is logged per outage, and Redis is tried again with backoff; pass
 * `insurance: false` to get `BackendUnavailableError` instead.
 *
 * @example
 * ```ts
 * import { createRedisRateLimiter } from "@conveyor/redis";
 *
 * const limiter = createRedisRateLimiter({ url: "redis://localhost:6379/0" });
 * const { allowed, resetMs } = await limiter.consume("api:user-42", { points: 10, durationMs: 1_000 });
 * if (!allowed) console.log(`try again in ${resetMs} ms`);
 * await limiter.close();
 * ```
 */
export const createRedisRateLimiter = ((options: RedisRateLimiterOptions = {}): RateLimiter => {
  const settings = { ...DEFAULTS, ...options };
  if (typeof settings.prefix !== "string") {
    throw new ConfigError("the Redis rate limiter option prefix must be a string.", { scope: "redis" });
  }
  const primary = createBareRedisRateLimiter(settings);
  if (settings.insurance === false) return primary;
  return withInsurance(primary, settings.insurance ?? createLocalRateLimiter(), {
    log: settings.log ?? consoleLogger(),
  });
}) satisfies RateLimiterFactory<RedisRateLimiterOptions>;
