// Bee-Queue URLs are read by the kit every Redis adapter shares.
import { parseRedisUrl, type RedisTarget } from "@conveyor/redis-kit";

/** Where Redis is, read from a `bee-queue+redis://` URL (or a plain `redis://` one). */
export type BeeRedisTarget = RedisTarget;

/**
 * Reads `bee-queue+redis://[[user]:password@]host[:port][/db][?options]` (`bee-queue+rediss://`
 * for TLS; plain `redis://` and `rediss://` are accepted too). `adapterParams` are the query
 * options the caller reads itself; any other option but `connectTimeoutMs` is refused with a
 * `ConfigError`, so a typo fails loudly. Sentinel and Cluster are refused: Bee-Queue's scripts and
 * its `redis` v3 client speak to one server.
 */
export function parseBeeQueueUrl(
  url: string,
  adapterParams: readonly string[] = [],
): { target: BeeRedisTarget; params: URLSearchParams } {
  return parseRedisUrl(url, {
    scheme: "bee-queue",
    name: "Bee-Queue",
    scope: "bee-queue",
    adapterParams,
    singleServer: "Point it at the primary, or use @conveyor/redis or @conveyor/bullmq.",
  });
}
