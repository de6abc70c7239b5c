import {
  ClosedError,
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
}

const DEFAULTS = { store: undefined } satisfies MemoryRateLimiterOptions;

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
  const store = joinStore("rateLimiter", storeName, () => new LimiterStore());
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
      leaveStore("rateLimiter", storeName, store);
    },
  };
}) satisfies RateLimiterFactory<MemoryRateLimiterOptions>;
