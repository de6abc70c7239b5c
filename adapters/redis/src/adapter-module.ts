import { type AdapterModule, ConfigError, maskUrl } from "@conveyor/core";
import { createRedisCache, type RedisCacheOptions } from "./cache.js";
import { diagnoseRedis } from "./diagnose.js";
import { createRedisQueue, type RedisQueueOptions } from "./queue/index.js";
import { createRedisRateLimiter, type RedisRateLimiterOptions } from "./rate-limiter.js";
import { parseRedisUrl } from "./url.js";

function positiveNumber(params: URLSearchParams, key: string, url: string): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`the option ${key}=${raw} in "${maskUrl(url)}" must be a positive number.`, {
      scope: "redis",
    });
  }
  return value;
}

/**
 * What the adapter registry of `@conveyor/core` loads for `redis://` and `rediss://` URLs:
 *
 * - cache: `redis://[:password@]host:6379/0?namespace=<ns>&ttlMs=<ms>&prefix=<key prefix>`;
 * - rate limiter: `redis://[:password@]host:6379/0?prefix=<key prefix>`, with the in-process
 *   insurance limiter while Redis is unreachable.
 *
 * Sentinel (`?sentinels=h1:26379,h2:26379&name=mymaster`), Cluster (`?cluster=true&nodes=…`) and
 * `connectTimeoutMs` work in all three. The queue: `redis://host:6379/0?prefix=<key prefix>` (see `createRedisQueue`).
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { conveyorAdapter } from "@conveyor/redis";
 *
 * const url = "redis://localhost:6379/0?namespace=translations&ttlMs=86400000";
 * const cache = await conveyorAdapter.createCache?.({ url, parsed: parseUrl(url) });
 * ```
 */
export const conveyorAdapter: AdapterModule = {
  // `conveyor doctor`: reachable, version, persistence and eviction policy, judged per use.
  diagnose: diagnoseRedis,
  createCache({ url }) {
    const { target, params } = parseRedisUrl(url, ["namespace", "ttlMs", "prefix"]);
    const options: RedisCacheOptions = { url: target.url };
    const namespace = params.get("namespace");
    if (namespace !== null) options.namespace = namespace;
    const prefix = params.get("prefix");
    if (prefix !== null) options.prefix = prefix;
    const defaultTtlMs = positiveNumber(params, "ttlMs", url);
    if (defaultTtlMs !== undefined) options.defaultTtlMs = defaultTtlMs;
    return createRedisCache(options);
  },
  createRateLimiter({ url }) {
    const { target, params } = parseRedisUrl(url, ["prefix"]);
    const options: RedisRateLimiterOptions = { url: target.url };
    const prefix = params.get("prefix");
    if (prefix !== null) options.prefix = prefix;
    return createRedisRateLimiter(options);
  },
  // queue: `redis://[:password@]host:6379/0?prefix=<key prefix>&maxEvents=<n>`
  createQueue({ url }) {
    const { target, params } = parseRedisUrl(url, ["prefix", "maxEvents"]);
    const options: RedisQueueOptions = { url: target.url };
    const prefix = params.get("prefix");
    if (prefix !== null) options.prefix = prefix;
    const maxEvents = positiveNumber(params, "maxEvents", url);
    if (maxEvents !== undefined) options.maxEvents = maxEvents;
    return createRedisQueue(options);
  },
};
