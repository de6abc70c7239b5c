/** Options for one cache write. */
export interface CacheSetOptions {
  /** Time to live in milliseconds; omitted means the cache's default (or forever). */
  ttlMs?: number;
}

/** One entry for {@link Cache.setMany}. */
export interface CacheEntry<T = unknown> {
  key: string;
  value: T;
  /** Time to live in milliseconds. */
  ttlMs?: number;
}

/** Counters of one cache (or one tier of a tiered cache). */
export interface CacheStats {
  /** Adapter or tier name. */
  name: string;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  /** Entries dropped to respect a size or entry limit. */
  evictions: number;
  /** Operations that failed on the backend. */
  errors: number;
  /** Entries held now, when the backend can tell cheaply. */
  size?: number;
  /** Per-tier stats of a tiered cache. */
  tiers?: CacheStats[];
}

/**
 * The Cache contract: a key-value store of JSON-serialisable values with TTLs, scoped to a
 * namespace. Values come back equal (deep) to what was set, never a shared reference.
 *
 * Guarantees: an expired entry is never returned; `clear` removes only this namespace;
 * `getMany` answers in the order of its keys.
 */
export interface Cache {
  /** Adapter name used in messages and stats. */
  readonly name: string;
  /**
   * `true` when only this process sees the entries (an in-process cache). A tiered cache leaves
   * such tiers out of the view it gives to data that several processes read and write.
   * @defaultValue `false` (shared)
   */
  readonly local?: boolean;
  /** The value, or `undefined` on a miss or after expiry. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Values for several keys, in order; `undefined` for each miss. */
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /** Stores a value. `undefined` values are refused with a `ValidationError`. */
  set<T = unknown>(key: string, value: T, options?: CacheSetOptions): Promise<void>;
  /** Stores several values. */
  setMany<T = unknown>(entries: readonly CacheEntry<T>[]): Promise<void>;
  /** Whether an unexpired entry exists (does not count as a hit or miss). */
  has(key: string): Promise<boolean>;
  /** Removes an entry; returns whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Removes every entry of this cache's namespace, nothing else. */
  clear(): Promise<void>;
  /** Counters since creation. */
  stats(): Promise<CacheStats>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** A typed factory that creates a cache from its options. */
export type CacheFactory<Options> = (options: Options) => Cache;
