import { type RateLimit, type RateLimiter, ValidationError, type ValidationIssue } from "@conveyor/core";

/** Refuses a malformed limit or cost with a `ValidationError` listing every problem. */
export function checkLimit(limit: RateLimit, cost: number): void {
  // The common case allocates nothing: this runs on every consume.
  const block = limit?.blockDurationMs;
  if (
    limit?.points > 0 &&
    Number.isFinite(limit.points) &&
    limit.durationMs > 0 &&
    Number.isFinite(limit.durationMs) &&
    (block === undefined || (block >= 0 && Number.isFinite(block))) &&
    cost >= 0 &&
    Number.isFinite(cost)
  ) {
    return;
  }
  const issues: ValidationIssue[] = [];
  if (!(Number.isFinite(limit?.points) && limit.points > 0))
    issues.push({ path: "points", message: "must be a positive number" });
  if (!(Number.isFinite(limit?.durationMs) && limit.durationMs > 0)) {
    issues.push({ path: "durationMs", message: "must be a positive number of milliseconds" });
  }
  if (block !== undefined && !(Number.isFinite(block) && block >= 0)) {
    issues.push({ path: "blockDurationMs", message: "must be a non-negative number of milliseconds" });
  }
  if (!(Number.isFinite(cost) && cost >= 0))
    issues.push({ path: "cost", message: "must be a non-negative number" });
  if (issues.length > 0) throw new ValidationError("the rate limit", issues, { scope: "redis" });
}

interface Window {
  endsAt: number;
  consumed: number;
  blockedUntil: number;
}

// Windows that ended are swept each time the map doubles: memory stays proportional to the keys
// in use, at amortised O(1) per call.
const FIRST_SWEEP_AT = 1_024;

/**
 * The in-process fixed-window limiter that stands in while Redis is unreachable: the same
 * windows, blocks and answers as the Redis limiter, counted per process. Not exported: pass any
 * `RateLimiter` as the `insurance` option to use another.
 */
export function createLocalRateLimiter(): RateLimiter {
  const windows = new Map<string, Window>();
  let sweepAt = FIRST_SWEEP_AT;
  const over = (w: Window, now: number) => now >= w.endsAt && now >= w.blockedUntil;

  const current = (key: string, now: number): Window | undefined => {
    const window = windows.get(key);
    if (window === undefined || !over(window, now)) return window;
    windows.delete(key);
    return undefined;
  };

  const open = (key: string, window: Window, now: number) => {
    windows.set(key, window);
    if (windows.size < sweepAt) return;
    for (const [k, w] of windows) if (over(w, now)) windows.delete(k);
    sweepAt = Math.max(FIRST_SWEEP_AT, windows.size * 2);
  };

  const blocked = (w: Window, now: number) => ({
    allowed: false,
    remaining: 0,
    resetMs: w.blockedUntil - now,
    consumed: w.consumed,
  });

  return {
    name: "local",
    async consume(key, limit, cost = 1) {
      checkLimit(limit, cost);
      const now = Date.now();
      let window = current(key, now);
      if (window !== undefined && now < window.blockedUntil) return blocked(window, now);
      if (window === undefined || now >= window.endsAt) {
        window = { endsAt: now + limit.durationMs, consumed: 0, blockedUntil: 0 };
        open(key, window, now);
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
        window.blockedUntil = now + blockMs;
        window.endsAt = window.blockedUntil;
        return blocked(window, now);
      }
      return { allowed: false, remaining: 0, resetMs: window.endsAt - now, consumed: window.consumed };
    },
    async peek(key, limit) {
      checkLimit(limit, 0);
      const now = Date.now();
      const window = current(key, now);
      if (window !== undefined && now < window.blockedUntil) return blocked(window, now);
      if (window === undefined || now >= window.endsAt) {
        return { allowed: true, remaining: limit.points, resetMs: 0, consumed: 0 };
      }
      const remaining = Math.max(0, limit.points - window.consumed);
      return { allowed: remaining > 0, remaining, resetMs: window.endsAt - now, consumed: window.consumed };
    },
    async reset(key) {
      windows.delete(key);
    },
    async close() {
      windows.clear();
    },
  };
}
