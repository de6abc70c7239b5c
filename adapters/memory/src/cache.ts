import {
  type Cache,
  type CacheEntry,
  type CacheFactory,
  type CacheStats,
  ClosedError,
  ConfigError,
  ValidationError,
} from "@conveyor/core";
import { copyOrReject, copyValue } from "./copy.js";
import { joinStore, leaveStore, type SharedStore } from "./registry.js";

/**
 * Options of {@link createMemoryCache}.
 *
 * @example
 * ```ts
 * import type { MemoryCacheOptions } from "@conveyor/memory";
 * const options: MemoryCacheOptions = { maxEntries: 1_000, defaultTtlMs: 60_000, namespace: "app" };
 * ```
 */
export interface MemoryCacheOptions {
  /**
   * Most entries the store holds, across every namespace sharing it; the least recently used
   * entry is evicted to make room. Set by the first cache that opens a named store.
   * @defaultValue 10_000
   */
  maxEntries?: number;
  /**
   * Time to live of an entry written without its own `ttlMs`.
   * @defaultValue none: entries live until evicted or deleted
   */
  defaultTtlMs?: number;
  /**
   * Keys of this cache live apart from other namespaces of the same store; `clear` removes
   * only this namespace.
   * @defaultValue "" (the unnamed namespace)
   */
  namespace?: string;
  /**
   * Name of a store shared in this process (`memory://app` gives `"app"`). The store lives
   * while at least one cache using it is open.
   * @defaultValue a fresh private store
   */
  store?: string;
}

const DEFAULTS = {
  maxEntries: 10_000,
  defaultTtlMs: undefined,
  namespace: "",
  store: undefined,
} satisfies MemoryCacheOptions;

interface Entry {
  readonly namespace: string;
  readonly value: unknown;
  /** Epoch ms after which the entry is gone; undefined for never. */
  readonly expiresAt: number | undefined;
}

/**
 * One LRU map for every namespace of a store. A `Map` iterates in insertion order, so
 * re-inserting an entry on each read keeps the least recently used entry first.
 */
class CacheStore implements SharedStore {
  users = 0;
  readonly entries = new Map<string, Entry>();
  /** Whether `maxEntries` was given explicitly by the cache that created the store. */
  constructor(
    readonly maxEntries: number,
    readonly explicitMax: boolean,
  ) {}
  dispose(): void {
    this.entries.clear();
  }
}

// A NUL cannot appear in a sane namespace, so `namespace + NUL + key` never collides.
const storeKey = (namespace: string, key: string) => `${namespace}\u0000${key}`;

function checkTtl(ttlMs: number | undefined, path: string): void {
  if (ttlMs !== undefined && !(typeof ttlMs === "number" && ttlMs > 0)) {
    throw new ValidationError(
      "the cache TTL",
      [{ path, message: "must be a positive number of milliseconds" }],
      {
        scope: "memory",
      },
    );
  }
}

/**
 * Creates an in-process cache: least-recently-used eviction by entry count, TTLs checked on
 * every read, values stored and returned as deep copies. Caches created with the same
 * {@link MemoryCacheOptions.store} name share entries (and the entry limit); namespaces keep
 * their keys apart.
 *
 * @example
 * ```ts
 * import { createMemoryCache } from "@conveyor/memory";
 *
 * const cache = createMemoryCache({ maxEntries: 1_000, defaultTtlMs: 60_000, namespace: "translations" });
 * await cache.set("en:es:hello", { text: "hola" });
 * const hit = await cache.get<{ text: string }>("en:es:hello"); // { text: "hola" }
 * await cache.close();
 * ```
 */
export const createMemoryCache = ((options: MemoryCacheOptions = {}): Cache => {
  const settings = { ...DEFAULTS, ...options };
  const { maxEntries, defaultTtlMs, namespace } = settings;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ConfigError(
      `the memory cache option maxEntries must be an integer of at least 1, not ${maxEntries}.`,
      {
        scope: "memory",
      },
    );
  }
  if (defaultTtlMs !== undefined && !(typeof defaultTtlMs === "number" && defaultTtlMs > 0)) {
    throw new ConfigError(
      `the memory cache option defaultTtlMs must be a positive number, not ${defaultTtlMs}.`,
      {
        scope: "memory",
      },
    );
  }
  if (typeof namespace !== "string") {
    throw new ConfigError("the memory cache option namespace must be a string.", { scope: "memory" });
  }
  const storeName = settings.store;
  const store = joinStore(
    "cache",
    storeName,
    () => new CacheStore(maxEntries, options.maxEntries !== undefined),
  );
  if (options.maxEntries !== undefined && store.explicitMax && store.maxEntries !== maxEntries) {
    leaveStore("cache", storeName, store);
    throw new ConfigError(
      `the memory cache store "${storeName}" is already open with maxEntries ${store.maxEntries}, not ${maxEntries}. Use the same limit everywhere, or a different store name.`,
      { scope: "memory" },
    );
  }
  const entries = store.entries;
  const counters = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 };
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new ClosedError("this memory cache", { scope: "memory" });
  };

  /** The live entry under `key`, dropping it when expired. */
  const live = (key: string, now: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const read = <T>(key: string, now: number): T | undefined => {
    const fullKey = storeKey(namespace, key);
    const entry = live(fullKey, now);
    if (entry === undefined) {
      counters.misses++;
      return undefined;
    }
    counters.hits++;
    entries.delete(fullKey);
    entries.set(fullKey, entry);
    return copyValue(entry.value) as T;
  };

  const prepare = (key: string, value: unknown, ttlMs: number | undefined, now: number) => {
    if (typeof key !== "string") {
      throw new ValidationError("the cache key", [{ path: "", message: "must be a string" }], {
        scope: "memory",
      });
    }
    if (value === undefined) {
      throw new ValidationError(
        `the cache value for "${key}"`,
        [{ path: "", message: "must not be undefined; delete the key instead" }],
        {
          scope: "memory",
        },
      );
    }
    checkTtl(ttlMs, "ttlMs");
    const ttl = ttlMs ?? defaultTtlMs;
    const entry: Entry = {
      namespace,
      value: copyOrReject(value, `the cache value for "${key}"`, "memory"),
      expiresAt: ttl === undefined || ttl === Number.POSITIVE_INFINITY ? undefined : now + ttl,
    };
    return [storeKey(namespace, key), entry] as const;
  };

  const write = (fullKey: string, entry: Entry, now: number): void => {
    entries.delete(fullKey);
    entries.set(fullKey, entry);
    counters.sets++;
    // Map iteration starts at the least recently used entry.
    for (const [oldestKey, oldest] of entries) {
      const expired = oldest.expiresAt !== undefined && oldest.expiresAt <= now;
      if (!expired && entries.size <= store.maxEntries) break;
      entries.delete(oldestKey);
      if (!expired) counters.evictions++;
    }
  };

  return {
    name: "memory",
    local: true,

    async get<T = unknown>(key: string) {
      ensureOpen();
      return read<T>(key, Date.now());
    },

    async getMany<T = unknown>(keys: readonly string[]) {
      ensureOpen();
      const now = Date.now();
      return keys.map((key) => read<T>(key, now));
    },

    async set<T = unknown>(key: string, value: T, setOptions: { ttlMs?: number } = {}) {
      ensureOpen();
      const now = Date.now();
      const [fullKey, entry] = prepare(key, value, setOptions.ttlMs, now);
      write(fullKey, entry, now);
    },

    async setMany<T = unknown>(list: readonly CacheEntry<T>[]) {
      ensureOpen();
      const now = Date.now();
      // Check and copy every entry first, so one bad value writes nothing.
      const prepared = list.map((item) => prepare(item.key, item.value, item.ttlMs, now));
      for (const [fullKey, entry] of prepared) write(fullKey, entry, now);
    },

    async has(key) {
      ensureOpen();
      return live(storeKey(namespace, key), Date.now()) !== undefined;
    },

    async delete(key) {
      ensureOpen();
      const fullKey = storeKey(namespace, key);
      const existed = live(fullKey, Date.now()) !== undefined;
      if (existed) {
        entries.delete(fullKey);
        counters.deletes++;
      }
      return existed;
    },

    async clear() {
      ensureOpen();
      for (const [key, entry] of entries) if (entry.namespace === namespace) entries.delete(key);
    },

    async stats(): Promise<CacheStats> {
      ensureOpen();
      const now = Date.now();
      let size = 0;
      for (const [key, entry] of entries) {
        if (entry.expiresAt !== undefined && entry.expiresAt <= now) entries.delete(key);
        else if (entry.namespace === namespace) size++;
      }
      return { name: "memory", ...counters, size };
    },

    async close() {
      if (closed) return;
      closed = true;
      leaveStore("cache", storeName, store);
    },
  };
}) satisfies CacheFactory<MemoryCacheOptions>;
