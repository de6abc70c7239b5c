import { randomBytes } from "node:crypto";
import type { Cache, QueueAdapter, QueueCapabilities, RateLimiter } from "@conveyor/core";

/** What a queue-suite factory is given for each test. */
export interface QueueConformanceContext {
  /**
   * A random prefix unique to this test, e.g. `"cv-3f9a0c1b2d4e"`. Use it for every key the
   * backend writes (the suite also uses it in queue names), so tests sharing one server never collide.
   */
  readonly prefix: string;
}

/** Options of {@link runQueueConformance}. */
export interface QueueConformanceOptions {
  /** Shown in the suite's title, e.g. `"redis"`. */
  name: string;
  /** Creates a fresh queue adapter; called once per test (and once while collecting, see `capabilities`). */
  queue: (context: QueueConformanceContext) => QueueAdapter | Promise<QueueAdapter>;
  /** Creates the cache the platform uses in the queue tests (task result cache). */
  cache: (context: QueueConformanceContext) => Cache | Promise<Cache>;
  /** Creates the rate limiter the platform uses in the queue tests (task rate limits). */
  rateLimiter: (context: QueueConformanceContext) => RateLimiter | Promise<RateLimiter>;
  /**
   * The adapter's capabilities, which decide the tests that are skipped.
   * @defaultValue read from one adapter made with `queue` while the tests are collected (then closed)
   */
  capabilities?: QueueCapabilities;
  /**
   * Multiplies every delay, TTL, backoff and deadline of the suite; raise it for backends that
   * poll (e.g. `2` doubles them).
   * @defaultValue 1
   */
  timeScale?: number;
}

/** What a cache-suite factory is given for each test. */
export interface CacheConformanceContext {
  /** A random namespace unique to this test (two caches in one test get two namespaces). */
  readonly namespace: string;
}

/** Options of {@link runCacheConformance}. */
export interface CacheConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Creates a cache scoped to `namespace`. Caches created with different namespaces in one test
   * must share one backend, so the suite can check that `clear` stays in its namespace.
   */
  create: (context: CacheConformanceContext) => Cache | Promise<Cache>;
  /** Multiplies every TTL and deadline of the suite. @defaultValue 1 */
  timeScale?: number;
}

/** What a rate-limiter-suite factory is given for each test. */
export interface RateLimiterConformanceContext {
  /** A random prefix unique to this test; use it for every key the backend writes. */
  readonly prefix: string;
}

/** Options of {@link runRateLimiterConformance}. */
export interface RateLimiterConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /** Creates a fresh rate limiter. */
  create: (context: RateLimiterConformanceContext) => RateLimiter | Promise<RateLimiter>;
  /** Multiplies every window, block and deadline of the suite. @defaultValue 1 */
  timeScale?: number;
}

/**
 * A random prefix for one test, `"cv-"` and 12 hex digits; safe in Redis keys, queue names and
 * job ids.
 *
 * @example
 * ```ts
 * import { randomPrefix } from "@conveyor/testing";
 * const queue = `${randomPrefix()}-emails`; // e.g. "cv-3f9a0c1b2d4e-emails"
 * console.log(queue);
 * ```
 */
export function randomPrefix(): string {
  return `cv-${randomBytes(6).toString("hex")}`;
}

/**
 * Resolves after `ms` milliseconds. Prefer {@link waitFor}: a fixed sleep is only right when a
 * test must show that something does *not* happen for a while.
 *
 * @example
 * ```ts
 * import { sleep } from "@conveyor/testing";
 * await sleep(20);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many ms with an error. @defaultValue 5_000 */
  timeoutMs?: number;
  /** Pause between two probes in ms. @defaultValue 5 */
  intervalMs?: number;
  /** Says what was awaited, in the error thrown at the deadline. @defaultValue "condition" */
  message?: string;
}

/**
 * Calls `probe` until it returns a truthy value (or a promise of one) and resolves with that value.
 * Errors thrown by `probe` count as "not yet" and are reported when the deadline passes.
 *
 * @example
 * ```ts
 * import { waitFor } from "@conveyor/testing";
 * let ready = false;
 * setTimeout(() => { ready = true; }, 10);
 * await waitFor(() => ready, { timeoutMs: 1_000, message: "ready flag" });
 * ```
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      lastValue = value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const what = options.message ?? "condition";
      const last =
        lastError !== undefined
          ? `; the last probe threw: ${String(lastError)}`
          : `; the last probe returned ${String(lastValue)}`;
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${last}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/** A promise with its `resolve` and `reject` taken out. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  /** Settles the promise with a value. */
  resolve(value: T): void;
  /** Settles the promise with an error. */
  reject(reason: unknown): void;
  /** Whether `resolve` or `reject` was called. */
  readonly settled: boolean;
}

/**
 * A promise settled from outside: hold a handler until the test says go.
 *
 * @example
 * ```ts
 * import { deferred } from "@conveyor/testing";
 * const go = deferred<void>();
 * setTimeout(() => go.resolve(), 10);
 * await go.promise;
 * ```
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    promise,
    resolve(value) {
      settled = true;
      resolve(value);
    },
    reject(reason) {
      settled = true;
      reject(reason);
    },
    get settled() {
      return settled;
    },
  };
}

/** Resolves with `signal.reason` once `signal` aborts (at once when it already has). */
export function abortReason(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), { once: true }),
  );
}

/** A positive finite scale factor, or 1. */
export function resolveTimeScale(timeScale: number | undefined): number {
  if (timeScale === undefined) return 1;
  if (!Number.isFinite(timeScale) || timeScale <= 0) {
    throw new Error(
      `timeScale must be a positive number, got ${timeScale}. Pass e.g. 2 to double every delay.`,
    );
  }
  return timeScale;
}
