import type { Cache, CacheEntry, CacheSetOptions, CacheStats } from "./contracts/cache.js";
import type { Logger } from "./contracts/task.js";
import { BackendUnavailableError, ClosedError, ConfigError, isConveyorError } from "./errors.js";
import { silentLogger } from "./logger.js";

/**
 * Options of {@link createTieredCache}.
 *
 * @example
 * ```ts
 * import { consoleLogger, type TieredCacheOptions } from "@conveyor/core";
 * const options: TieredCacheOptions = { log: consoleLogger(), backfillTtlMs: 30_000, retryMaxMs: 10_000 };
 * ```
 */
export interface TieredCacheOptions {
  /**
   * Where tier failures go: one `warn` when a tier starts failing, one `info` when it answers
   * again, `debug` for each failed retry in between.
   * @defaultValue a logger that drops everything
   */
  log?: Logger;
  /**
   * Time to live of a value copied into a faster tier after a slower one answered (back-fill).
   * The Cache contract does not tell how long an entry has left, so a back-filled copy lives at
   * most this long: it bounds how stale a faster tier can be after the entry expired or changed
   * in a slower one. Never longer than the `ttlMs` the value was written with through this cache.
   * @defaultValue 60_000
   */
  backfillTtlMs?: number;
  /**
   * After a tier fails it is skipped; the first call after this many milliseconds tries it again,
   * and each failed try doubles the wait up to {@link TieredCacheOptions.retryMaxMs}.
   * @defaultValue 250
   */
  retryMinMs?: number;
  /**
   * Longest wait between two tries of a failing tier.
   * @defaultValue 30_000
   */
  retryMaxMs?: number;
  /**
   * A tier call that has not settled after this long counts as a failure (a backend that stopped
   * answering without closing its connection). `0` waits as long as the tier does.
   * @defaultValue 2_000
   */
  timeoutMs?: number;
  /**
   * Most keys remembered per tier while it is unreachable (written or deleted meanwhile, so the
   * tier may hold an old value): they are deleted from it before it is used again. Past this
   * many, the tier's namespace is cleared instead.
   * @defaultValue 10_000
   */
  maxPendingKeys?: number;
  /**
   * Name in messages and stats.
   * @defaultValue "tiered"
   */
  name?: string;
}

/** Counters and health of one tier of a {@link createTieredCache} cache. */
export interface TierStats extends CacheStats {
  /** Position of the tier, 0 for the fastest. */
  index: number;
  /** Whether the tier is in use; `false` while it is skipped after a failure. */
  healthy: boolean;
  /** The last failure's message, while the tier is unhealthy. */
  lastError?: string;
  /** Epoch ms of the failure that made the tier unhealthy. */
  unhealthySince?: number;
  /** Milliseconds until the tier is tried again (0 when due), while it is unhealthy. */
  retryInMs?: number;
}

/** Stats of a tiered cache: totals across tiers, and each tier's own. */
export interface TieredCacheStats extends CacheStats {
  tiers: TierStats[];
}

/** A {@link Cache} made of tiers; its `stats` give each tier's counters and health. */
export interface TieredCache extends Cache {
  /** The tiers, fastest first. */
  readonly tiers: readonly Cache[];
  stats(): Promise<TieredCacheStats>;
  /**
   * The same cache without its process-local tiers (`local: true`, e.g. memory), for data that
   * several processes read, change and write back (a process-local tier would keep serving its
   * own copy). Shares the tiers (with a health state of its own); closing it closes nothing. The
   * cache itself when no tier is local; `undefined` when every tier is.
   */
  shared(): Cache | undefined;
}

const DEFAULTS = {
  log: silentLogger,
  backfillTtlMs: 60_000,
  retryMinMs: 250,
  retryMaxMs: 30_000,
  timeoutMs: 2_000,
  maxPendingKeys: 10_000,
  name: "tiered",
} satisfies Required<TieredCacheOptions>;

// Checked against a tier that has nothing pending to bring back to date before it is used again.
const PROBE_KEY = "conveyor:tier-probe";

/** Errors that say the call itself was wrong: every tier would refuse it the same way. */
const CALLER_ERRORS = new Set(["VALIDATION"]);

const isCallerError = (error: unknown) => isConveyorError(error) && CALLER_ERRORS.has(error.code);

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

interface Tier {
  readonly cache: Cache;
  readonly index: number;
  readonly label: string;
  healthy: boolean;
  probing: boolean;
  retryDelayMs: number;
  retryAt: number;
  unhealthySince: number;
  lastError: string | undefined;
  /** Keys changed while the tier was skipped; `"all"` after a `clear` or too many keys. */
  pending: Set<string> | "all";
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
}

function checkOptions(settings: Required<TieredCacheOptions>, tiers: readonly Cache[]): void {
  if (!Array.isArray(tiers) || tiers.length === 0) {
    throw new ConfigError(
      "a tiered cache needs at least one tier. Pass caches fastest first, e.g. [memory, redis, disk].",
      { scope: "cache" },
    );
  }
  for (const key of ["backfillTtlMs", "retryMinMs", "retryMaxMs", "maxPendingKeys"] as const) {
    const value = settings[key];
    if (!(typeof value === "number" && Number.isFinite(value) && value > 0)) {
      throw new ConfigError(`the tiered cache option ${key} must be a positive number, not ${value}.`, {
        scope: "cache",
      });
    }
  }
  const { timeoutMs } = settings;
  if (!(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new ConfigError(
      `the tiered cache option timeoutMs must be 0 or a positive number of milliseconds, not ${timeoutMs}.`,
      { scope: "cache" },
    );
  }
}

/**
 * Stacks caches into one, fastest first (`[memory, redis, disk]`):
 *
 * - reads ask each tier in turn and copy a value found in a slower tier into the faster ones
 *   (back-fill, for at most {@link TieredCacheOptions.backfillTtlMs});
 * - writes, deletes and `clear` go to every reachable tier at once;
 * - a tier that fails (unreachable, timed out, any backend error) is skipped and marked unhealthy,
 *   with one warning; it is tried again after a backoff, and keys written or deleted meanwhile are
 *   deleted from it first, so it never serves a value older than the other tiers' one;
 * - the caller sees an error only when no tier could answer (a `BackendUnavailableError`), or
 *   when the call itself is wrong (a `ValidationError`, thrown as the tiers throw it).
 *
 * `stats()` gives totals and, in `tiers`, each tier's hits, misses, errors, size and health.
 * `close()` closes every tier. Works over any {@link Cache}; a comma-separated cache URL
 * (`CONVEYOR_CACHE_URL="memory://?max=10000,redis://localhost:6379,disk://./.conveyor"`) builds one.
 *
 * @example
 * ```ts
 * import { type Cache, consoleLogger, createTieredCache } from "@conveyor/core";
 *
 * declare const memory: Cache, redis: Cache, disk: Cache; // from @conveyor/memory, /redis, /disk
 * const cache = createTieredCache([memory, redis, disk], { log: consoleLogger() });
 * await cache.set("greeting", "hello", { ttlMs: 60_000 }); // in all three
 * console.log(await cache.get("greeting")); // from memory; from disk if Redis and memory lost it
 * const { tiers } = await cache.stats();
 * console.log(tiers.map((t) => `${t.name}: ${t.hits} hits, healthy ${t.healthy}`));
 * ```
 */
export function createTieredCache(tiers: readonly Cache[], options: TieredCacheOptions = {}): TieredCache {
  const settings = { ...DEFAULTS, ...options };
  checkOptions(settings, tiers);
  const { log, backfillTtlMs, retryMinMs, retryMaxMs, timeoutMs, maxPendingKeys, name } = settings;
  const states: Tier[] = tiers.map((cache, index) => ({
    cache,
    index,
    label: `the ${cache.name} tier (${index + 1} of ${tiers.length})`,
    healthy: true,
    probing: false,
    retryDelayMs: retryMinMs,
    retryAt: 0,
    unhealthySince: 0,
    lastError: undefined,
    pending: new Set<string>(),
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
  }));
  const counters = { hits: 0, misses: 0, sets: 0, deletes: 0 };
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new ClosedError(`this ${name} cache`, { scope: "cache" });
  };

  // Calls in flight with their deadlines, checked by one interval while any is pending: a timer
  // per call cost a third of a memory-tier read.
  const inFlight = new Set<{ deadline: number; tier: Tier; reject: (error: unknown) => void }>();
  let watchdog: NodeJS.Timeout | undefined;
  const watch = () => {
    if (watchdog !== undefined) return;
    watchdog = setInterval(
      () => {
        const now = Date.now();
        for (const entry of inFlight) {
          if (entry.deadline > now) continue;
          inFlight.delete(entry);
          entry.reject(
            new BackendUnavailableError(
              `${entry.tier.label} of the ${name} cache`,
              `no answer within ${timeoutMs} ms`,
              { scope: "cache" },
            ),
          );
        }
        if (inFlight.size === 0) {
          clearInterval(watchdog);
          watchdog = undefined;
        }
      },
      Math.max(5, Math.round(timeoutMs / 4)),
    );
    watchdog.unref();
  };

  /** Runs one tier call, failing it after `timeoutMs`; synchronous throws become rejections. */
  const call = <T>(tier: Tier, run: (cache: Cache) => Promise<T>): Promise<T> => {
    let pending: Promise<T>;
    try {
      pending = run(tier.cache);
    } catch (error) {
      return Promise.reject(error);
    }
    if (timeoutMs === 0) return pending;
    return new Promise<T>((resolve, reject) => {
      const entry = { deadline: Date.now() + timeoutMs, tier, reject };
      inFlight.add(entry);
      watch();
      pending.then(
        (value) => {
          inFlight.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          inFlight.delete(entry);
          reject(error);
        },
      );
    });
  };

  const remember = (tier: Tier, keys: Iterable<string> | "all") => {
    if (tier.pending === "all") return;
    if (keys === "all") {
      tier.pending = "all";
      return;
    }
    for (const key of keys) tier.pending.add(key);
    if (tier.pending.size > maxPendingKeys) tier.pending = "all";
  };

  // A function, so the check is not narrowed away: writes change `pending` while a probe awaits.
  const hasPending = (tier: Tier) => tier.pending === "all" || tier.pending.size > 0;

  /** Records a tier failure; rethrows errors that are the caller's. */
  const failed = (tier: Tier, error: unknown, keys?: Iterable<string> | "all"): void => {
    if (isCallerError(error)) throw error;
    tier.errors++;
    if (keys !== undefined) remember(tier, keys);
    tier.lastError = messageOf(error);
    if (!tier.healthy) return;
    tier.healthy = false;
    tier.unhealthySince = Date.now();
    tier.retryDelayMs = retryMinMs;
    tier.retryAt = tier.unhealthySince + retryMinMs;
    log.warn(
      `[conveyor:cache] ${tier.label} of the ${name} cache failed; skipping it and trying again in ${retryMinMs} ms, with backoff`,
      { tier: tier.cache.name, index: tier.index, error: tier.lastError },
    );
  };

  /**
   * Brings an unhealthy tier back: deletes what changed while it was skipped (or clears it), or
   * asks it one cheap question when nothing did. One probe at a time per tier.
   */
  const probe = async (tier: Tier): Promise<boolean> => {
    tier.probing = true;
    let taken: Set<string> | "all" = new Set();
    try {
      // Writes that arrive meanwhile still skip the tier and land in a fresh set; a few rounds
      // catch up with them before the tier is used again.
      for (let round = 0; round < 3; round++) {
        taken = tier.pending;
        tier.pending = new Set();
        if (taken === "all") await call(tier, (cache) => cache.clear());
        else if (taken.size > 0) {
          const keys = [...taken];
          await Promise.all(keys.map((key) => call(tier, (cache) => cache.delete(key))));
        } else if (round === 0) await call(tier, (cache) => cache.has(PROBE_KEY));
        taken = new Set();
        if (!hasPending(tier)) break;
      }
      if (hasPending(tier)) throw new Error("the cache kept changing");
      tier.healthy = true;
      tier.lastError = undefined;
      log.info(`[conveyor:cache] ${tier.label} of the ${name} cache answers again; using it again`, {
        tier: tier.cache.name,
        index: tier.index,
        unavailableMs: Date.now() - tier.unhealthySince,
      });
      return true;
    } catch (error) {
      remember(tier, taken === "all" ? "all" : taken);
      if (!isCallerError(error)) {
        tier.errors++;
        tier.lastError = messageOf(error);
      }
      tier.retryDelayMs = Math.min(tier.retryDelayMs * 2, retryMaxMs);
      tier.retryAt = Date.now() + tier.retryDelayMs;
      log.debug(`[conveyor:cache] ${tier.label} of the ${name} cache still fails`, {
        tier: tier.cache.name,
        retryInMs: tier.retryDelayMs,
        error: tier.lastError,
      });
      return false;
    } finally {
      tier.probing = false;
    }
  };

  /** Whether to use the tier now; probes an unhealthy tier when its retry is due. */
  const usable = (tier: Tier): boolean | Promise<boolean> => {
    if (tier.healthy) return true;
    if (tier.probing || Date.now() < tier.retryAt) return false;
    return probe(tier);
  };

  const allFailed = (what: string, errors: unknown[]): BackendUnavailableError => {
    const reasons = states.map((t) => `${t.cache.name}: ${t.lastError ?? "skipped"}`).join("; ");
    return new BackendUnavailableError(`every tier of the ${name} cache`, `${what} failed (${reasons})`, {
      scope: "cache",
      cause: errors[0],
      details: { tiers: states.map((t) => ({ name: t.cache.name, healthy: t.healthy, error: t.lastError })) },
    });
  };

  /** Copies found values into the faster tiers that are in use; a failure there only marks the tier. */
  const backfill = async (upTo: number, entries: CacheEntry[]): Promise<void> => {
    if (entries.length === 0) return;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < upTo; i++) {
      const tier = states[i]!;
      if (!tier.healthy) continue;
      writes.push(
        (entries.length === 1
          ? call(tier, (cache) => cache.set(entries[0]!.key, entries[0]!.value, { ttlMs: entries[0]!.ttlMs }))
          : call(tier, (cache) => cache.setMany(entries))
        ).then(
          () => {
            tier.sets += entries.length;
          },
          (error: unknown) => {
            try {
              failed(
                tier,
                error,
                entries.map((e) => e.key),
              );
            } catch {
              // A value another tier stored but this one refuses is not the caller's fault.
              tier.errors++;
            }
          },
        ),
      );
    }
    await Promise.all(writes);
  };

  // The TTL a key was last written with through this cache, so a back-fill never outlives it.
  // Bounded: only keys written here with a TTL shorter than the back-fill TTL are remembered.
  const shortTtls = new Map<string, number>();
  const backfillTtl = (key: string, now: number): number | undefined => {
    const expiresAt = shortTtls.get(key);
    if (expiresAt === undefined) return backfillTtlMs;
    if (expiresAt <= now) {
      shortTtls.delete(key);
      return undefined;
    }
    return Math.min(backfillTtlMs, expiresAt - now);
  };
  const noteTtl = (key: string, ttlMs: number | undefined, now: number) => {
    if (ttlMs !== undefined && ttlMs < backfillTtlMs) {
      if (shortTtls.size >= maxPendingKeys) shortTtls.clear();
      shortTtls.set(key, now + ttlMs);
    } else shortTtls.delete(key);
  };

  /** Runs a write on every tier in use, remembering the keys on the ones skipped or failing. */
  const writeAll = async (
    what: string,
    keys: readonly string[] | "all",
    run: (cache: Cache) => Promise<unknown>,
    onDone?: (tier: Tier, result: unknown) => void,
  ): Promise<void> => {
    const errors: unknown[] = [];
    let stored = 0;
    await Promise.all(
      states.map(async (tier) => {
        let use = usable(tier);
        if (typeof use !== "boolean") use = await use;
        if (!use) {
          remember(tier, keys);
          return;
        }
        try {
          const result = await call(tier, run);
          stored++;
          onDone?.(tier, result);
        } catch (error) {
          errors.push(error);
          failed(tier, error, keys);
        }
      }),
    );
    if (stored === 0) throw allFailed(what, errors);
  };

  let view: Cache | undefined;
  const sharedView = (): Cache | undefined => {
    const shared = tiers.filter((tier) => tier.local !== true);
    if (shared.length === 0) return undefined;
    if (shared.length === tiers.length) return tiered;
    if (view === undefined) {
      const inner = createTieredCache(shared, { ...options, name: `${name} (shared tiers)` });
      // The tiers belong to the full cache: the view never closes them.
      view = Object.assign(Object.create(inner) as Cache, { close: async () => {} });
    }
    return view;
  };

  const tiered: TieredCache = {
    name,
    tiers,

    async get<T = unknown>(key: string): Promise<T | undefined> {
      ensureOpen();
      const errors: unknown[] = [];
      let answered = false;
      for (const tier of states) {
        let use = usable(tier);
        if (typeof use !== "boolean") use = await use;
        if (!use) continue;
        let value: T | undefined;
        try {
          value = await call(tier, (cache) => cache.get<T>(key));
        } catch (error) {
          errors.push(error);
          failed(tier, error);
          continue;
        }
        answered = true;
        if (value === undefined) {
          tier.misses++;
          continue;
        }
        tier.hits++;
        counters.hits++;
        if (tier.index > 0) {
          const ttlMs = backfillTtl(key, Date.now());
          if (ttlMs !== undefined) await backfill(tier.index, [{ key, value, ttlMs }]);
        }
        return value;
      }
      if (!answered) throw allFailed(`get("${key}")`, errors);
      counters.misses++;
      return undefined;
    },

    async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
      ensureOpen();
      const values: (T | undefined)[] = new Array(keys.length).fill(undefined);
      let missing = keys.map((_, i) => i);
      const errors: unknown[] = [];
      let answered = false;
      for (const tier of states) {
        if (missing.length === 0) break;
        let use = usable(tier);
        if (typeof use !== "boolean") use = await use;
        if (!use) continue;
        let found: (T | undefined)[];
        try {
          found = await call(tier, (cache) => cache.getMany<T>(missing.map((i) => keys[i]!)));
        } catch (error) {
          errors.push(error);
          failed(tier, error);
          continue;
        }
        answered = true;
        const stillMissing: number[] = [];
        const fill: CacheEntry[] = [];
        const now = Date.now();
        missing.forEach((keyIndex, j) => {
          const value = found[j];
          if (value === undefined) {
            tier.misses++;
            stillMissing.push(keyIndex);
            return;
          }
          tier.hits++;
          values[keyIndex] = value;
          const ttlMs = tier.index > 0 ? backfillTtl(keys[keyIndex]!, now) : undefined;
          if (ttlMs !== undefined) fill.push({ key: keys[keyIndex]!, value, ttlMs });
        });
        missing = stillMissing;
        await backfill(tier.index, fill);
      }
      if (!answered && keys.length > 0) throw allFailed(`getMany(${keys.length} keys)`, errors);
      counters.misses += missing.length;
      counters.hits += keys.length - missing.length;
      return values;
    },

    async set<T = unknown>(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
      ensureOpen();
      await writeAll(
        `set("${key}")`,
        [key],
        (cache) => cache.set(key, value, options),
        (tier) => {
          tier.sets++;
        },
      );
      noteTtl(key, options.ttlMs, Date.now());
      counters.sets++;
    },

    async setMany<T = unknown>(entries: readonly CacheEntry<T>[]): Promise<void> {
      ensureOpen();
      if (entries.length === 0) return;
      const keys = entries.map((e) => e.key);
      await writeAll(
        `setMany(${entries.length} entries)`,
        keys,
        (cache) => cache.setMany(entries),
        (tier) => {
          tier.sets += entries.length;
        },
      );
      const now = Date.now();
      for (const entry of entries) noteTtl(entry.key, entry.ttlMs, now);
      counters.sets += entries.length;
    },

    async has(key: string): Promise<boolean> {
      ensureOpen();
      const errors: unknown[] = [];
      let answered = false;
      for (const tier of states) {
        let use = usable(tier);
        if (typeof use !== "boolean") use = await use;
        if (!use) continue;
        try {
          if (await call(tier, (cache) => cache.has(key))) return true;
          answered = true;
        } catch (error) {
          errors.push(error);
          failed(tier, error);
        }
      }
      if (!answered) throw allFailed(`has("${key}")`, errors);
      return false;
    },

    async delete(key: string): Promise<boolean> {
      ensureOpen();
      let existed = false;
      await writeAll(
        `delete("${key}")`,
        [key],
        (cache) => cache.delete(key),
        (tier, result) => {
          if (result === true) {
            tier.deletes++;
            existed = true;
          }
        },
      );
      shortTtls.delete(key);
      if (existed) counters.deletes++;
      return existed;
    },

    async clear(): Promise<void> {
      ensureOpen();
      await writeAll("clear()", "all", (cache) => cache.clear());
      shortTtls.clear();
    },

    async stats(): Promise<TieredCacheStats> {
      ensureOpen();
      const now = Date.now();
      const perTier = await Promise.all(
        states.map(async (tier): Promise<TierStats> => {
          // Only a healthy tier is asked: stats must answer while a backend is down.
          let own: CacheStats | undefined;
          if (tier.healthy) own = await call(tier, (cache) => cache.stats()).catch(() => undefined);
          return {
            name: own?.name ?? tier.cache.name,
            index: tier.index,
            healthy: tier.healthy,
            hits: tier.hits,
            misses: tier.misses,
            sets: tier.sets,
            deletes: tier.deletes,
            evictions: own?.evictions ?? 0,
            errors: tier.errors,
            ...(own?.size !== undefined ? { size: own.size } : {}),
            ...(tier.healthy
              ? {}
              : {
                  lastError: tier.lastError ?? "unknown",
                  unhealthySince: tier.unhealthySince,
                  retryInMs: Math.max(0, tier.retryAt - now),
                }),
          };
        }),
      );
      const sizes = perTier.flatMap((t) => (t.size === undefined ? [] : [t.size]));
      return {
        name,
        ...counters,
        evictions: perTier.reduce((sum, t) => sum + t.evictions, 0),
        errors: perTier.reduce((sum, t) => sum + t.errors, 0),
        // The slowest tiers hold the most; the largest is the best guess at the entries cached.
        ...(sizes.length > 0 ? { size: Math.max(...sizes) } : {}),
        tiers: perTier,
      };
    },

    shared(): Cache | undefined {
      return sharedView();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(watchdog);
      watchdog = undefined;
      const results = await Promise.allSettled(tiers.map((cache) => cache.close()));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failure) throw failure.reason;
    },
  };
  return tiered;
}

/**
 * Splits a cache URL into its tiers: `memory://?max=10000,redis://host:6379,disk://./.conveyor`
 * gives three URLs. Only a comma followed by `<scheme>://` starts a tier, so commas inside a URL
 * (`redis://…?sentinels=h1:26379,h2:26379`) stay where they are.
 *
 * @example
 * ```ts
 * import { splitCacheUrls } from "@conveyor/core";
 * splitCacheUrls("memory://?max=10000,redis://localhost:6379"); // ["memory://?max=10000", "redis://localhost:6379"]
 * ```
 */
export function splitCacheUrls(url: string): string[] {
  return url
    .split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i)
    .map((part) => part.trim())
    .filter((part) => part !== "");
}
