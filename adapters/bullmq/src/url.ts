// BullMQ URLs are read by the kit every Redis adapter shares.
import { positiveParam as kitPositiveParam, parseRedisUrl, type RedisTarget } from "@conveyor/redis-kit";

/** Where and how to reach Redis, read from a `bullmq+redis://` URL by {@link parseBullmqUrl}. */
export type BullmqTarget = RedisTarget;

/** The query options a `bullmq+redis://` URL accepts besides `connectTimeoutMs` (each a {@link BullmqQueueOptions} field). */
export const URL_OPTIONS = ["prefix", "maxEvents", "stalledIntervalMs", "maxStalledCount"] as const;

/**
 * Reads `bullmq+redis://[[user]:password@]host[:port][/db]` (`bullmq+rediss://` for TLS; plain
 * `redis://` and `rediss://` are accepted too), `connectTimeoutMs` and {@link URL_OPTIONS}; anything
 * else is refused with a `ConfigError`, so a typo fails loudly. Sentinel and Cluster URLs are
 * refused: pass your own ioredis client as `connection` for those.
 */
export function parseBullmqUrl(url: string): { target: BullmqTarget; params: URLSearchParams } {
  return parseRedisUrl(url, {
    scheme: "bullmq",
    name: "BullMQ",
    scope: "bullmq",
    adapterParams: URL_OPTIONS,
    singleServer:
      "Point it at the primary, or pass your own ioredis client (Sentinel, Cluster) as connection.",
  });
}

/** A positive number from the URL options, or undefined when absent; a `ConfigError` otherwise. */
export function positiveParam(params: URLSearchParams, key: string, url: string): number | undefined {
  return kitPositiveParam(params, key, url, "bullmq");
}
