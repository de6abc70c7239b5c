import {
  type Cache,
  type CacheEntry,
  type CacheFactory,
  type CacheStats,
  ClosedError,
  ConfigError,
  ValidationError,
} from "@conveyor/core";
import KeyvRedis, { type RedisClientConnectionType } from "@keyv/redis";
import { Keyv } from "keyv";
import { acquire, nodeRedisDriver, type RedisConnectionOptions, toBackendError } from "./connection.js";
import { givenClientTarget, parseRedisUrl, type RedisTarget } from "./url.js";

/**
 * Options of {@link createRedisCache}.
 *
 * @example
 * ```ts
 * import type { RedisCacheOptions } from "@conveyor/redis";
 * const options: RedisCacheOptions = { url: "redis://localhost:6379/0", namespace: "translations", defaultTtlMs: 86_400_000 };
 * ```
 */
export interface RedisCacheOptions extends RedisConnectionOptions {
  /**
   * A node-redis client (`createClient`, `createCluster` or `createSentinel`, as re-exported by
   * `@keyv/redis`) to use instead of `url`; connect it first. The cache never closes it.
   * @defaultValue none: the cache shares one connection per URL in this process
   */
  client?: RedisClientConnectionType;
  /**
   * Keys of this cache live apart from other namespaces; `clear` removes only this namespace.
   * It must not contain `"::"`, the separator between namespace and key.
   * @defaultValue `"default"`
   */
  namespace?: string;
  /**
   * Prefix of every key this cache writes: keys are `<prefix><namespace>::<key>`.
   * @defaultValue `"conveyor:cache:"`
   */
  prefix?: string;
  /**
   * Time to live of an entry written without its own `ttlMs`.
   * @defaultValue none: entries live until deleted (or evicted by Redis)
   */
  defaultTtlMs?: number;
}

const DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  namespace: "default",
  prefix: "conveyor:cache:",
  defaultTtlMs: undefined,
} satisfies RedisCacheOptions;

const SEPARATOR = "::";
const CLEAR_BATCH = 1_000;

/** Escapes the glob characters of SCAN's MATCH. */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

function checkTtl(ttlMs: number | undefined, path: string): void {
  if (ttlMs !== undefined && !(typeof ttlMs === "number" && ttlMs > 0)) {
    throw new ValidationError(
      "the cache TTL",
      [{ path, message: "must be a positive number of milliseconds" }],
      { scope: "redis" },
    );
  }
}

function checkEntry(key: unknown, value: unknown, ttlMs: number | undefined): void {
  if (typeof key !== "string") {
    throw new ValidationError("the cache key", [{ path: "", message: "must be a string" }], {
      scope: "redis",
    });
  }
  if (value === undefined) {
    throw new ValidationError(
      `the cache value for "${key}"`,
      [{ path: "", message: "must not be undefined; delete the key instead" }],
      { scope: "redis" },
    );
  }
  const type = typeof value;
  if (type === "function" || type === "symbol" || type === "bigint") {
    throw new ValidationError(
      `the cache value for "${key}"`,
      [{ path: "", message: `a ${type} is not JSON; store JSON-serialisable values only` }],
      { scope: "redis" },
    );
  }
  checkTtl(ttlMs, "ttlMs");
}

/** `JSON.stringify`, refusing what JSON cannot encode (a `BigInt`, a cycle) with a `ValidationError`. */
function serialize(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    throw new ValidationError(
      "the cache value",
      [{ path: "", message: `is not JSON-serialisable (${(error as Error).message})` }],
      { scope: "redis", cause: error },
    );
  }
}

/**
 * KeyvRedis adds listeners to the client it is given and never removes them; on a client shared
 * by every cache of a URL they would pile up, one set per cache. The connection module owns the
 * client's events, so the listeners it adds while being built are taken off again.
 */
function keyvStore(client: RedisClientConnectionType, namespace: string): KeyvRedis<unknown> {
  const emitter = client as unknown as NodeJS.EventEmitter;
  const before = new Map(emitter.eventNames().map((name) => [name, new Set(emitter.listeners(name))]));
  const store = new KeyvRedis<unknown>(client, {
    namespace,
    keyPrefixSeparator: SEPARATOR,
    useUnlink: true,
    throwOnErrors: true,
    throwOnConnectError: true,
  });
  for (const name of emitter.eventNames()) {
    const kept = before.get(name);
    for (const listener of emitter.listeners(name)) {
      if (!kept?.has(listener)) emitter.off(name, listener as (...args: unknown[]) => void);
    }
  }
  return store;
}

/**
 * Creates a cache on Redis through Keyv and @keyv/redis: values are stored as JSON (so they come
 * back as deep copies), TTLs in milliseconds are Redis expiries (`PX`), `getMany` is one `MGET`,
 * `setMany` one `MULTI` of `SET … PX`, and `clear` walks only this namespace with `SCAN` and
 * `UNLINK` (never `FLUSHDB`). Caches of the same URL share one connection in the process.
 *
 * While Redis is unreachable every call fails at once with a `BackendUnavailableError` (the URL
 * masked) instead of waiting, and the connection reconnects with backoff in the background; a
 * tiered cache skips the tier meanwhile.
 *
 * @example
 * ```ts
 * import { createRedisCache } from "@conveyor/redis";
 *
 * const cache = createRedisCache({ url: "redis://localhost:6379/0", namespace: "translations" });
 * await cache.set("en:es:hello", { text: "hola" }, { ttlMs: 86_400_000 });
 * const hit = await cache.get<{ text: string }>("en:es:hello"); // { text: "hola" }
 * await cache.close();
 * ```
 */
export const createRedisCache = ((options: RedisCacheOptions = {}): Cache => {
  const settings = { ...DEFAULTS, ...options };
  const { namespace, prefix, defaultTtlMs } = settings;
  if (typeof namespace !== "string" || namespace === "" || namespace.includes(SEPARATOR)) {
    throw new ConfigError(
      `the Redis cache namespace must be a non-empty string without "${SEPARATOR}", not ${JSON.stringify(namespace)}.`,
      { scope: "redis" },
    );
  }
  if (typeof prefix !== "string") {
    throw new ConfigError("the Redis cache option prefix must be a string.", { scope: "redis" });
  }
  if (defaultTtlMs !== undefined && !(typeof defaultTtlMs === "number" && defaultTtlMs > 0)) {
    throw new ConfigError(
      `the Redis cache option defaultTtlMs must be a positive number, not ${defaultTtlMs}.`,
      { scope: "redis" },
    );
  }

  let target: RedisTarget;
  let client: RedisClientConnectionType;
  let ready: () => Promise<void> | undefined;
  let release: () => Promise<void>;
  if (options.client) {
    client = options.client;
    target = givenClientTarget();
    ready = () => undefined;
    release = async () => {};
  } else {
    const lease = acquire(nodeRedisDriver, "cache", parseRedisUrl(settings.url).target, settings);
    ({ client, target } = lease);
    ready = () => lease.ready();
    release = () => lease.release();
  }

  const storeNamespace = `${prefix}${namespace}`;
  const store = keyvStore(client, storeNamespace);
  const keyv = new Keyv<unknown>({
    store,
    namespace: storeNamespace,
    // The store prefixes keys itself; Keyv adding its own prefix would double it.
    useKeyPrefix: false,
    throwOnErrors: true,
    // Plain JSON: values round-trip as JSON and come back as fresh objects.
    serialize,
    deserialize: JSON.parse,
  });
  const counters = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 };
  let closed = false;

  /** Runs a backend call behind the connection gate, counting and translating its failure. */
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    if (closed) throw new ClosedError("this Redis cache", { scope: "redis" });
    try {
      const waiting = ready();
      if (waiting !== undefined) await waiting;
      return await run();
    } catch (error) {
      // A value JSON refused is the caller's mistake, not the backend's.
      if (error instanceof ValidationError) throw error;
      counters.errors++;
      throw toBackendError(target, error);
    }
  };

  /** Redis expiries are whole milliseconds. */
  const ttlOf = (ttlMs: number | undefined) => {
    const ttl = ttlMs ?? defaultTtlMs;
    return ttl === undefined || ttl === Number.POSITIVE_INFINITY ? undefined : Math.max(1, Math.ceil(ttl));
  };

  return {
    name: "redis",

    async get<T = unknown>(key: string) {
      const value = await call(() => keyv.get(key));
      if (value === undefined) counters.misses++;
      else counters.hits++;
      return value as T | undefined;
    },

    async getMany<T = unknown>(keys: readonly string[]) {
      if (keys.length === 0) {
        if (closed) throw new ClosedError("this Redis cache", { scope: "redis" });
        return [];
      }
      const values = await call(() => keyv.getMany([...keys]));
      for (const value of values) {
        if (value === undefined) counters.misses++;
        else counters.hits++;
      }
      return values as (T | undefined)[];
    },

    async set<T = unknown>(key: string, value: T, setOptions: { ttlMs?: number } = {}) {
      checkEntry(key, value, setOptions.ttlMs);
      await call(() => keyv.set(key, value, ttlOf(setOptions.ttlMs)));
      counters.sets++;
    },

    async setMany<T = unknown>(entries: readonly CacheEntry<T>[]) {
      // Check every entry first, so one bad value writes nothing.
      for (const entry of entries) checkEntry(entry.key, entry.value, entry.ttlMs);
      if (entries.length === 0) {
        if (closed) throw new ClosedError("this Redis cache", { scope: "redis" });
        return;
      }
      const list = entries.map((entry) => {
        const ttl = ttlOf(entry.ttlMs);
        return ttl === undefined
          ? { key: entry.key, value: entry.value }
          : { key: entry.key, value: entry.value, ttl };
      });
      await call(() => keyv.setMany(list));
      counters.sets += entries.length;
    },

    async has(key) {
      return call(() => keyv.has(key));
    },

    async delete(key) {
      const existed = await call(() => keyv.delete(key));
      if (existed) counters.deletes++;
      return existed;
    },

    async clear() {
      // KeyvRedis.clear reports failures as events only; this one throws them, and matches the
      // namespace with its glob characters escaped.
      await call(async () => {
        const match = `${globEscape(storeNamespace + SEPARATOR)}*`;
        const nodes = await store.getMasterNodes();
        await Promise.all(
          nodes.map(async (node) => {
            let cursor = "0";
            do {
              const page = await node.scan(cursor, { MATCH: match, COUNT: CLEAR_BATCH });
              cursor = String(page.cursor);
              // One key per UNLINK keeps a Cluster's slots apart; the calls still go out pipelined.
              if (page.keys.length > 0) {
                await (store.isCluster()
                  ? Promise.all(page.keys.map((key) => node.unlink(key)))
                  : node.unlink(page.keys));
              }
            } while (cursor !== "0");
          }),
        );
      });
    },

    async stats(): Promise<CacheStats> {
      if (closed) throw new ClosedError("this Redis cache", { scope: "redis" });
      // No size: counting a namespace means SCANning the whole keyspace, too costly for a call
      // that dashboards make every few seconds.
      return { name: "redis", ...counters };
    },

    async close() {
      if (closed) return;
      closed = true;
      await release();
    },
  };
}) satisfies CacheFactory<RedisCacheOptions>;
