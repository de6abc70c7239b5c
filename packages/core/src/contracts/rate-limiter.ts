/** A limit: `points` per `durationMs`, per key. */
export interface RateLimit {
  /** Points available per window. */
  points: number;
  /** Window length in milliseconds. */
  durationMs: number;
  /**
   * Once the points are used up, refuse the key for this long (instead of until the window ends).
   * @defaultValue 0 (refuse until the window resets)
   */
  blockDurationMs?: number;
}

/** The answer to {@link RateLimiter.consume}. */
export interface RateLimitResult {
  /** Whether the points were granted. */
  allowed: boolean;
  /** Points left in the current window (0 when refused). */
  remaining: number;
  /** Milliseconds until the window resets (or the block ends); wait this long before retrying. */
  resetMs: number;
  /** Points consumed in the current window, including this call when allowed. */
  consumed: number;
}

/**
 * The RateLimiter contract: counts points per key within a window.
 *
 * Guarantees: `consume` is atomic — under any concurrency no more than `points` are granted per
 * key per window; keys are independent.
 */
export interface RateLimiter {
  /** Adapter name used in messages. */
  readonly name: string;
  /** Takes `cost` points (default 1) from `key` under `limit`. */
  consume(key: string, limit: RateLimit, cost?: number): Promise<RateLimitResult>;
  /** The key's state under `limit` without consuming. */
  peek(key: string, limit: RateLimit): Promise<RateLimitResult>;
  /** Forgets a key's consumption. */
  reset(key: string): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** A typed factory that creates a rate limiter from its options. */
export type RateLimiterFactory<Options> = (options: Options) => RateLimiter;
