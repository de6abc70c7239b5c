import {
  type Cache,
  type CacheEntry,
  type CacheFactory,
  type CacheStats,
  ClosedError,
  ConfigError,
  ValidationError,
} from "@conveyor/core";
import type { Statement } from "better-sqlite3";
import { backendError, type Db, type Durability, openDatabase } from "./database.js";
import { encodeOrReject } from "./json.js";
import {
  checkParams,
  checkPositiveInteger,
  type DiskLocation,
  numberParam,
  resolveLocation,
  storeFile,
} from "./location.js";
import { checkDurability } from "./queue.js";
import { CACHE_MIGRATIONS } from "./schema.js";

/**
 * Options of {@link createDiskCache}: where the store lives (`path` or `url`), its limits and
 * this cache's namespace.
 *
 * @example
 * ```ts
 * import type { DiskCacheOptions } from "@conveyor/disk";
 * const options: DiskCacheOptions = { path: "./.conveyor", namespace: "app", maxBytes: 64 * 1024 * 1024 };
 * ```
 */
export interface DiskCacheOptions extends DiskLocation {
  /**
   * Keys of this cache live apart from other namespaces of the same file; `clear` removes only
   * this namespace.
   * @defaultValue "" (the unnamed namespace)
   */
  namespace?: string;
  /**
   * Most entries in the file, across every namespace; the least recently used go first. Enforced
   * by each writer with its own setting, so give every process the same one.
   * @defaultValue 100_000
   */
  maxEntries?: number;
  /**
   * Most bytes of keys and JSON values in the file, across every namespace; the least recently
   * used entries go first. Enforced like `maxEntries`.
   * @defaultValue 268_435_456 (256 MiB)
   */
  maxBytes?: number;
  /**
   * Time to live of an entry written without its own `ttlMs`.
   * @defaultValue none: entries live until evicted or deleted
   */
  defaultTtlMs?: number;
  /**
   * How hard a commit is pushed to the disk; see {@link DiskQueueOptions.durability}.
   * @defaultValue "normal"
   */
  durability?: Durability;
  /**
   * How long a write waits for another process's transaction before it fails.
   * @defaultValue 5_000
   */
  busyTimeoutMs?: number;
}

const DEFAULTS = {
  namespace: "",
  maxEntries: 100_000,
  maxBytes: 256 * 1024 * 1024,
  defaultTtlMs: undefined,
  durability: "normal",
  busyTimeoutMs: 5_000,
} satisfies Omit<DiskCacheOptions, keyof DiskLocation>;

/** The query options a cache URL may carry: `max` (entries), `maxBytes`, `ttlMs`, `namespace`, … */
export const CACHE_URL_OPTIONS = [
  "max",
  "maxBytes",
  "ttlMs",
  "namespace",
  "durability",
  "busyTimeoutMs",
] as const;

// Reads record their access for the LRU order in memory and write it in one batch this often,
// so a cache hit costs a read, not a write transaction. The LRU order is approximate within it.
const TOUCH_FLUSH_MS = 1_000;
// Expired entries are deleted this often (reads never return them in between).
const SWEEP_MS = 30_000;
const EVICT_BATCH = 256;

/** Options from a URL's query string (they lose to options given in code). */
export function cacheOptionsFromUrl(params: URLSearchParams, url: string): Partial<DiskCacheOptions> {
  checkParams(params, CACHE_URL_OPTIONS, url, "cache");
  const options: Partial<DiskCacheOptions> = {};
  const maxEntries = numberParam(params, "max", url, "integer");
  if (maxEntries !== undefined) options.maxEntries = maxEntries;
  const maxBytes = numberParam(params, "maxBytes", url, "integer");
  if (maxBytes !== undefined) options.maxBytes = maxBytes;
  const defaultTtlMs = numberParam(params, "ttlMs", url, "number");
  if (defaultTtlMs !== undefined) options.defaultTtlMs = defaultTtlMs;
  const busyTimeoutMs = numberParam(params, "busyTimeoutMs", url, "integer");
  if (busyTimeoutMs !== undefined) options.busyTimeoutMs = busyTimeoutMs;
  const namespace = params.get("namespace");
  if (namespace !== null) options.namespace = namespace;
  const durability = params.get("durability");
  if (durability !== null) options.durability = durability as Durability;
  return options;
}

function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && !(typeof ttlMs === "number" && ttlMs > 0)) {
    throw new ValidationError(
      "the cache TTL",
      [{ path: "ttlMs", message: "must be a positive number of milliseconds" }],
      {
        scope: "disk",
      },
    );
  }
}

interface Prepared {
  key: string;
  value: string;
  bytes: number;
  expiresAt: number | null;
}

/** The statements of one open cache file. */
class CacheStore {
  readonly get: Statement;
  readonly has: Statement;
  readonly upsert: Statement;
  readonly delete: Statement;
  readonly clear: Statement;
  readonly size: Statement;
  readonly totals: Statement;
  readonly oldest: Statement;
  readonly deleteRow: Statement;
  readonly deleteExpired: Statement;
  readonly touch: Statement;
  readonly run: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown };

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.get = p(
      "SELECT value, accessed_at FROM entries WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
    );
    this.has = p(
      "SELECT 1 FROM entries WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
    ).pluck();
    this.upsert = p(
      `INSERT INTO entries (namespace, key, value, bytes, expires_at, accessed_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes,
       expires_at = excluded.expires_at, accessed_at = excluded.accessed_at`,
    );
    this.delete = p(
      "DELETE FROM entries WHERE namespace = ? AND key = ? RETURNING (expires_at IS NULL OR expires_at > ?) AS live",
    );
    this.clear = p("DELETE FROM entries WHERE namespace = ?");
    this.size = p(
      "SELECT COUNT(*) FROM entries WHERE namespace = ? AND (expires_at IS NULL OR expires_at > ?)",
    ).pluck();
    this.totals = p("SELECT entries, bytes FROM totals WHERE id = 1");
    // Limits are written into the SQL: a bound LIMIT makes SQLite prepare the statement on every run.
    this.oldest = p(
      `SELECT rowid AS id, bytes, expires_at FROM entries ORDER BY accessed_at LIMIT ${EVICT_BATCH}`,
    );
    this.deleteRow = p("DELETE FROM entries WHERE rowid = ?");
    this.deleteExpired = p(
      `DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries WHERE expires_at <= ? LIMIT ${EVICT_BATCH})`,
    );
    this.touch = p("UPDATE entries SET accessed_at = ? WHERE namespace = ? AND key = ? AND accessed_at < ?");
    this.run = db.transaction((fn: () => unknown) => fn()) as never;
  }

  write<T>(fn: () => T): T {
    return this.run.immediate(fn) as T;
  }
}

/**
 * Creates a persistent cache in one SQLite file (`<folder>/cache.sqlite`, WAL mode) shared by
 * every process on the machine that opens the same folder. Values are JSON; entries expire by
 * TTL and are evicted least recently used first when the file holds more than `maxEntries`
 * entries or `maxBytes` bytes. Namespaces share the file and its limits; `clear` empties only its
 * own. The file is opened on first use.
 *
 * @example
 * ```ts
 * import { createDiskCache } from "@conveyor/disk";
 *
 * const cache = createDiskCache({ path: "./.conveyor", namespace: "translations", defaultTtlMs: 86_400_000 });
 * await cache.set("en:es:hello", { text: "hola" });
 * const hit = await cache.get<{ text: string }>("en:es:hello"); // { text: "hola" }
 * await cache.close();
 * ```
 */
export const createDiskCache = ((options: DiskCacheOptions): Cache => {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError("createDiskCache needs options: { path } or { url }.", { scope: "disk" });
  }
  const { folder, params } = resolveLocation(options, "cache");
  const fromUrl = options.url !== undefined ? cacheOptionsFromUrl(params, options.url) : {};
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings = { ...DEFAULTS, ...fromUrl, ...defined } as typeof DEFAULTS & { defaultTtlMs?: number };
  const { namespace, maxEntries, maxBytes, defaultTtlMs } = settings;
  checkDurability(settings.durability, "cache");
  checkPositiveInteger(maxEntries, "maxEntries", "cache");
  checkPositiveInteger(maxBytes, "maxBytes", "cache");
  checkPositiveInteger(settings.busyTimeoutMs, "busyTimeoutMs", "cache", 0);
  if (defaultTtlMs !== undefined && !(typeof defaultTtlMs === "number" && defaultTtlMs > 0)) {
    throw new ConfigError(
      `the disk cache option defaultTtlMs must be a positive number, not ${String(defaultTtlMs)}.`,
      {
        scope: "disk",
      },
    );
  }
  if (typeof namespace !== "string") {
    throw new ConfigError("the disk cache option namespace must be a string.", { scope: "disk" });
  }
  const file = storeFile(folder, "cache");
  const counters = { hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, errors: 0 };
  let store: CacheStore | undefined;
  let closed = false;
  // Keys read since the last flush of access times, with the time of their last read.
  let touched = new Map<string, number>();
  let touchTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepTimer: ReturnType<typeof setInterval> | undefined;

  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ValidationError || error instanceof ClosedError) throw error;
      counters.errors++;
      throw backendError(error, file);
    }
  };

  const flushTouches = (): void => {
    touchTimer = undefined;
    if (store === undefined || touched.size === 0) return;
    const s = store;
    const batch = touched;
    touched = new Map();
    try {
      s.write(() => {
        for (const [key, at] of batch) s.touch.run(at, namespace, key, at);
      });
    } catch {
      // Access times only order evictions; losing one batch makes the order a little staler.
      counters.errors++;
    }
  };

  const sweep = (): void => {
    if (store === undefined) return;
    const s = store;
    try {
      s.write(() => s.deleteExpired.run(Date.now()));
    } catch (error) {
      if ((error as { code?: string }).code !== "SQLITE_BUSY") counters.errors++;
    }
  };

  const open = (): CacheStore => {
    if (closed) throw new ClosedError("this disk cache", { scope: "disk" });
    if (store === undefined) {
      store = new CacheStore(
        openDatabase({
          file,
          durability: settings.durability,
          busyTimeoutMs: settings.busyTimeoutMs,
          migrations: CACHE_MIGRATIONS,
          what: "cache",
        }),
      );
      sweepTimer = setInterval(sweep, SWEEP_MS);
      sweepTimer.unref();
    }
    return store;
  };

  const read = <T>(s: CacheStore, key: string, now: number): T | undefined => {
    if (typeof key !== "string") {
      throw new ValidationError("the cache key", [{ path: "", message: "must be a string" }], {
        scope: "disk",
      });
    }
    const row = s.get.get(namespace, key, now) as { value: string; accessed_at: number } | undefined;
    if (row === undefined) {
      counters.misses++;
      return undefined;
    }
    counters.hits++;
    if (row.accessed_at < now) {
      touched.set(key, now);
      if (touchTimer === undefined) {
        touchTimer = setTimeout(flushTouches, TOUCH_FLUSH_MS);
        touchTimer.unref();
      }
    }
    return JSON.parse(row.value) as T;
  };

  const prepare = (key: string, value: unknown, ttlMs: number | undefined, now: number): Prepared => {
    if (typeof key !== "string") {
      throw new ValidationError("the cache key", [{ path: "", message: "must be a string" }], {
        scope: "disk",
      });
    }
    if (value === undefined) {
      throw new ValidationError(
        `the cache value for "${key}"`,
        [{ path: "", message: "must not be undefined; delete the key instead" }],
        { scope: "disk" },
      );
    }
    checkTtl(ttlMs);
    const ttl = ttlMs ?? defaultTtlMs;
    const text = encodeOrReject(value, `the cache value for "${key}"`) as string;
    return {
      key,
      value: text,
      bytes: Buffer.byteLength(text) + Buffer.byteLength(key) + Buffer.byteLength(namespace),
      expiresAt: ttl === undefined || ttl === Number.POSITIVE_INFINITY ? null : now + ttl,
    };
  };

  /** Drops expired entries, then least recently used ones, until the file is within its limits. */
  const evict = (s: CacheStore, now: number): void => {
    for (;;) {
      const totals = s.totals.get() as { entries: number; bytes: number };
      if (totals.entries <= maxEntries && totals.bytes <= maxBytes) return;
      let entries = totals.entries;
      let bytes = totals.bytes;
      const victims = s.oldest.all() as { id: number; bytes: number; expires_at: number | null }[];
      if (victims.length === 0) return;
      for (const victim of victims) {
        if (entries <= maxEntries && bytes <= maxBytes) break;
        s.deleteRow.run(victim.id);
        entries--;
        bytes -= victim.bytes;
        if (victim.expires_at === null || victim.expires_at > now) counters.evictions++;
      }
    }
  };

  const writeAll = (entries: readonly Prepared[], now: number): void => {
    const s = open();
    guard(() =>
      s.write(() => {
        s.deleteExpired.run(now);
        for (const entry of entries) {
          s.upsert.run(namespace, entry.key, entry.value, entry.bytes, entry.expiresAt, now);
          touched.delete(entry.key);
        }
        evict(s, now);
      }),
    );
    counters.sets += entries.length;
  };

  return {
    name: "disk",

    async get<T = unknown>(key: string) {
      const s = open();
      return guard(() => read<T>(s, key, Date.now()));
    },

    async getMany<T = unknown>(keys: readonly string[]) {
      const s = open();
      const now = Date.now();
      return guard(() => keys.map((key) => read<T>(s, key, now)));
    },

    async set<T = unknown>(key: string, value: T, setOptions: { ttlMs?: number } = {}) {
      open();
      const now = Date.now();
      writeAll([prepare(key, value, setOptions.ttlMs, now)], now);
    },

    async setMany<T = unknown>(list: readonly CacheEntry<T>[]) {
      open();
      const now = Date.now();
      // Check and encode every entry first, so one bad value writes nothing.
      const prepared = list.map((item) => prepare(item.key, item.value, item.ttlMs, now));
      if (prepared.length > 0) writeAll(prepared, now);
    },

    async has(key) {
      const s = open();
      return guard(() => s.has.get(namespace, key, Date.now()) === 1);
    },

    async delete(key) {
      const s = open();
      const now = Date.now();
      const row = guard(() => s.write(() => s.delete.get(namespace, key, now))) as
        | { live: number }
        | undefined;
      touched.delete(key);
      const existed = row !== undefined && row.live === 1;
      if (existed) counters.deletes++;
      return existed;
    },

    async clear() {
      const s = open();
      guard(() => s.write(() => s.clear.run(namespace)));
      touched.clear();
    },

    async stats(): Promise<CacheStats> {
      const s = open();
      const size = guard(() => s.size.get(namespace, Date.now()) as number);
      return { name: "disk", ...counters, size };
    },

    async close() {
      if (closed) return;
      if (touchTimer !== undefined) clearTimeout(touchTimer);
      flushTouches();
      closed = true;
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
      store?.db.close();
      store = undefined;
    },
  };
}) satisfies CacheFactory<DiskCacheOptions>;
