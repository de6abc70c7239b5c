// Redis URLs are read by the kit every Redis adapter shares; this package reads `redis://` and
// `rediss://` with Sentinel and Cluster.
import { parseRedisUrl as parseUrl, type RedisTarget } from "@conveyor/redis-kit";

export { givenClientTarget, type RedisEndpoint, type RedisTarget } from "@conveyor/redis-kit";

/** Reads a `redis://` URL (see the kit's `parseRedisUrl`); `adapterParams` are the options the caller reads. */
export function parseRedisUrl(
  url: string,
  adapterParams: readonly string[] = [],
): { target: RedisTarget; params: URLSearchParams } {
  return parseUrl(url, { adapterParams });
}
