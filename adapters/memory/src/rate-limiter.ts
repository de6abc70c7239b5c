import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  ClosedError,
  ConfigError,
  type RateLimit,
  type RateLimiter,
  type RateLimiterFactory,
  type RateLimitResult,
  ValidationError,
  type ValidationIssue,
} from "@conveyor/core";
import { joinStore, leaveStore, type SharedStore } from "./registry.js";

/**
 * Options of {@link createMemoryRateLimiter}.
 *
 * @example
 * ```ts
 * import type { MemoryRateLimiterOptions } from "@conveyor/memory";
 * const options: MemoryRateLimiterOptions = { store: "app" };
 * ```
 */
export interface MemoryRateLimiterOptions {
  /**
   * Name of a store shared in this process (`memory://app` gives `"app"`): limiters using it
   * count against the same windows. The store lives while at least one of them is open.
   * @defaultValue a fresh private store
   */
  store?: string;
  /**
   * A file the limiter's windows are saved to when it closes and read back when it starts, so
   * limits survive a restart of the process (`memory://?persist=./.conveyor/limits.json`). A
   * relative path resolves from the working folder. Several processes must not share one file:
   * the last to close wins.
   * @defaultValue none: limits start afresh with each process
   */
  persistPath?: string;
  /**
   * With {@link MemoryRateLimiterOptions.persistPath}, also save this often, so a crash (no
   * close) loses at most this much of the count.
   * @defaultValue none: saved on close only
   */
  persistIntervalMs?: number;
}

const DEFAULTS = {
  store: undefined,
  persistPath: undefined,
  persistIntervalMs: undefined,
} satisfies MemoryRateLimiterOptions;

/** The saved form of a limiter's windows: `key → [endsAt, consumed, blockedUntil]` (epoch ms). */
interface SavedWindows {
  version: 1;
  savedAt: number;
  windows: Record<string, [number, number, number]>;
}

const isWindowTuple = (value: unknown): value is [number, number, number] =>
  Array.isArray(value) &&
  value.length === 3 &&
  value.every((n) => typeof n === "number" && Number.isFinite(n));

/** Reads saved windows; a missing file is an empty state, an unreadable one a `ConfigError`. */
function readSaved(file: string): SavedWindows["windows"] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(
      `the rate-limit state file ${file} could not be read: ${(error as Error).message}. Check its permissions.`,
      { scope: "memory", cause: error },
    );
  }
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch (cause) {
    saved = cause;
  }
  const windows = (saved as Partial<SavedWindows> | undefined)?.windows;
  if (
    (saved as Partial<SavedWindows> | undefined)?.version !== 1 ||
    typeof windows !== "object" ||
    windows === null ||
    !Object.values(windows).every(isWindowTuple)
  ) {
    throw new ConfigError(
      `the rate-limit state file ${file} is not a state saved by Conveyor. Move it away or delete it (limits then start afresh), or point persistPath elsewhere.`,
      { scope: "memory" },
    );
  }
  return windows;
}

/** One key's window. */
interface Window {
  /** Epoch ms when it ends; it began at the first consume after the previous one ended. */
  endsAt: number;
  consumed: number;
  /** Epoch ms until which the key is refused, after it went over the limit with `blockDurationMs`. */
  blockedUntil: number;
}

// Keys whose window ended are dropped by a sweep that runs each time the map doubles, so the
// map stays proportional to the keys in use at amortised O(1) per call.
const FIRST_SWEEP_AT = 1024;

class LimiterStore implements SharedStore {
  users = 0;
  readonly windows = new Map<string, Window>();
  private sweepAt = FIRST_SWEEP_AT;

  /** The key's current window, or undefined when it has none (never used, or over). */
  current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    if (now >= window.endsAt && now >= window.blockedUntil) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  open(key: string, window: Window, now: number): void {
    this.windows.set(key, window);
    if (this.windows.size < this.sweepAt) return;
    for (const [k, w] of this.windows) if (now >= w.endsAt && now >= w.blockedUntil) this.windows.delete(k);
    this.sweepAt = Math.max(FIRST_SWEEP_AT, this.windows.size * 2);
  }

  dispose(): void {
    this.windows.clear();
  }

  /** Loads saved windows that are still running. */
  restore(saved: SavedWindows["windows"], now: number): void {
    for (const [key, [endsAt, consumed, blockedUntil]] of Object.entries(saved)) {
      if (now < endsAt || now < blockedUntil) this.windows.set(key, { endsAt, consumed, blockedUntil });
    }
  }

  /** Writes the running windows to `file` atomically (a temporary file renamed over it). */
  save(file: string, now: number): void {
    const windows: SavedWindows["windows"] = {};
    for (const [key, w] of this.windows) {
      if (now < w.endsAt || now < w.blockedUntil) windows[key] = [w.endsAt, w.consumed, w.blockedUntil];
    }
    const saved: SavedWindows = { version: 1, savedAt: now, windows };
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(saved));
    renameSync(temporary, file);
  }
}

function checkLimit(limit: RateLimit, cost: number): void {
  const issues: ValidationIssue[] = [];
  if (!(Number.isFinite(limit?.points) && limit.points > 0))
    issues.push({ path: "points", message: "must be a positive number" });
  if (!(Number.isFinite(limit?.durationMs) && limit.durationMs > 0)) {
    issues.push({ path: "durationMs", message: "must be a positive number of milliseconds" });
  }
  const block = limit?.blockDurationMs;
  if (block !== undefined && !(Number.isFinite(block) && block >= 0)) {
    issues.push({ path: "blockDurationMs", message: "must be a non-negative number of milliseconds" });
  }
  if (!(Number.isFinite(cost) && cost >= 0))
    issues.push({ path: "cost", message: "must be a non-negative number" });
  if (issues.length > 0) throw new ValidationError("the rate limit", issues, { scope: "memory" });
}

/** The answer for a key while it is blocked. */
function refusedWhileBlocked(window: Window, now: number): RateLimitResult {
  return { allowed: false, remaining: 0, resetMs: window.blockedUntil - now, consumed: window.consumed };
}

/**
 * Creates an in-process rate limiter with a fixed window per key: the window opens at the
 * key's first `consume` and lasts `durationMs`; at most `points` are granted in it. With
 * `blockDurationMs`, a key that asks past its points is refused for that long instead of until
 * the window ends. Atomic by construction: JavaScript runs each call to completion.
 *
 * With `persistPath` the windows are saved to that file on close (and every `persistIntervalMs`)
 * and read back on start, so a restarted process keeps counting where it stopped.
 *
 * @example
 * ```ts
 * import { createMemoryRateLimiter } from "@conveyor/memory";
 *
 * const limiter = createMemoryRateLimiter();
 * const limit = { points: 10, durationMs: 1_000 };
 * const { allowed, resetMs } = await limiter.consume("api:user-42", limit);
 * if (!allowed) console.log(`try again in ${resetMs} ms`);
 * await limiter.close();
 * ```
 */
export const createMemoryRateLimiter = ((options: MemoryRateLimiterOptions = {}): RateLimiter => {
  const settings = { ...DEFAULTS, ...options };
  const storeName = settings.store;
  const { persistIntervalMs } = settings;
  if (
    settings.persistPath !== undefined &&
    (typeof settings.persistPath !== "string" || !settings.persistPath)
  ) {
    throw new ConfigError("the memory rate limiter option persistPath must be a file path.", {
      scope: "memory",
    });
  }
  if (persistIntervalMs !== undefined && !(Number.isFinite(persistIntervalMs) && persistIntervalMs > 0)) {
    throw new ConfigError(
      `the memory rate limiter option persistIntervalMs must be a positive number of milliseconds, not ${persistIntervalMs}.`,
      { scope: "memory" },
    );
  }
  const persistPath = settings.persistPath === undefined ? undefined : resolve(settings.persistPath);
  // Read before joining, so a bad file fails the call without holding a store.
  const saved = persistPath === undefined ? undefined : readSaved(persistPath);
  let fresh = false;
  const store = joinStore("rateLimiter", storeName, () => {
    fresh = true;
    return new LimiterStore();
  });
  // A store already open in this process holds newer counts than the file.
  if (saved !== undefined && fresh) store.restore(saved, Date.now());
  const timer =
    persistPath !== undefined && persistIntervalMs !== undefined
      ? setInterval(() => {
          try {
            store.save(persistPath, Date.now());
          } catch {
            // The next save or close tries again, and close reports a failure.
          }
        }, persistIntervalMs)
      : undefined;
  timer?.unref();
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new ClosedError("this memory rate limiter", { scope: "memory" });
  };

  return {
    name: "memory",

    async consume(key, limit, cost = 1) {
      ensureOpen();
      checkLimit(limit, cost);
      const now = Date.now();
      let window = store.current(key, now);
      if (window !== undefined && now < window.blockedUntil) return refusedWhileBlocked(window, now);
      if (window === undefined || now >= window.endsAt) {
        window = { endsAt: now + limit.durationMs, consumed: 0, blockedUntil: 0 };
        store.open(key, window, now);
      }
      if (window.consumed + cost <= limit.points) {
        window.consumed += cost;
        return {
          allowed: true,
          remaining: limit.points - window.consumed,
          resetMs: window.endsAt - now,
          consumed: window.consumed,
        };
      }
      const blockMs = limit.blockDurationMs ?? 0;
      if (blockMs > 0) {
        // The block replaces the rest of the window: once it ends the key starts afresh.
        window.blockedUntil = now + blockMs;
        window.endsAt = window.blockedUntil;
        return refusedWhileBlocked(window, now);
      }
      return { allowed: false, remaining: 0, resetMs: window.endsAt - now, consumed: window.consumed };
    },

    async peek(key, limit) {
      ensureOpen();
      checkLimit(limit, 0);
      const now = Date.now();
      const window = store.current(key, now);
      if (window !== undefined && now < window.blockedUntil) return refusedWhileBlocked(window, now);
      if (window === undefined || now >= window.endsAt) {
        return { allowed: true, remaining: limit.points, resetMs: 0, consumed: 0 };
      }
      const remaining = Math.max(0, limit.points - window.consumed);
      return { allowed: remaining > 0, remaining, resetMs: window.endsAt - now, consumed: window.consumed };
    },

    async reset(key) {
      ensureOpen();
      store.windows.delete(key);
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        if (persistPath !== undefined) store.save(persistPath, Date.now());
      } finally {
        leaveStore("rateLimiter", storeName, store);
      }
    },
  };
}) satisfies RateLimiterFactory<MemoryRateLimiterOptions>;
