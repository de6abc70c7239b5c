import type { RateLimit, RateLimiter, RateLimitResult } from "./contracts/rate-limiter.js";
import type { Logger } from "./contracts/task.js";
import { isConveyorError } from "./errors.js";
import { silentLogger } from "./logger.js";

/**
 * Options of {@link withInsurance}.
 *
 * @example
 * ```ts
 * import { consoleLogger, type InsuranceOptions } from "@conveyor/core";
 * const options: InsuranceOptions = { log: consoleLogger(), probeMinMs: 500, probeMaxMs: 30_000 };
 * ```
 */
export interface InsuranceOptions {
  /**
   * Where the switch warnings go: one `warn` when an outage starts, one `info` when it ends.
   * @defaultValue a logger that drops everything
   */
  log?: Logger;
  /**
   * Called on each switch: `"insurance"` with the error that started the outage, `"primary"`
   * when the primary answers again.
   * @defaultValue none
   */
  onSwitch?: (to: "primary" | "insurance", error?: unknown) => void;
  /**
   * During an outage, the first call after this many milliseconds tries the primary again; each
   * failed try doubles the wait, up to {@link InsuranceOptions.probeMaxMs}.
   * @defaultValue 250
   */
  probeMinMs?: number;
  /**
   * Longest wait between two tries of the primary during an outage.
   * @defaultValue 5_000
   */
  probeMaxMs?: number;
  /**
   * Which errors of the primary mean "unreachable" (the insurance answers) rather than "wrong
   * call" (the error is thrown).
   * @defaultValue {@link isOutageError}
   */
  isOutage?: (error: unknown) => boolean;
}

const DEFAULTS = {
  log: silentLogger,
  onSwitch: undefined,
  probeMinMs: 250,
  probeMaxMs: 5_000,
  isOutage: isOutageError,
} satisfies InsuranceOptions;

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
]);

/**
 * Whether `error` says a backend could not be reached: a `BackendUnavailableError` (code
 * `BACKEND_UNAVAILABLE`, across copies of this package), or a Node socket error such as
 * `ECONNREFUSED`, directly or as its `cause`.
 *
 * @example
 * ```ts
 * import { BackendUnavailableError, isOutageError } from "@conveyor/core";
 * isOutageError(new BackendUnavailableError("redis", "connection refused")); // true
 * isOutageError(new TypeError("bad argument")); // false
 * ```
 */
export function isOutageError(error: unknown): boolean {
  for (let depth = 0; depth < 4 && typeof error === "object" && error !== null; depth++) {
    if (isConveyorError(error)) return error.code === "BACKEND_UNAVAILABLE";
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
    error = (error as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Wraps a rate limiter that lives on a backend (`primary`, e.g. Redis) with one that cannot be
 * unreachable (`insurance`, e.g. in-process). Calls go to the primary; when it fails with an
 * outage error ({@link InsuranceOptions.isOutage}) the insurance answers instead and one warning
 * is logged per outage. During the outage the primary is tried again by one call at a time, first
 * after `probeMinMs`, then with a doubling wait; the first answer switches back (and logs it).
 *
 * While the insurance answers, limits hold per process only: N processes may grant up to N times
 * the points. Errors that are not outages (a `ValidationError`) are thrown as they are.
 * `reset` resets both; `close` closes both.
 *
 * @example
 * ```ts
 * import { consoleLogger, withInsurance, type RateLimiter } from "@conveyor/core";
 *
 * declare const redisLimiter: RateLimiter; // e.g. from @conveyor/redis
 * declare const localLimiter: RateLimiter; // e.g. from @conveyor/memory
 * const limiter = withInsurance(redisLimiter, localLimiter, { log: consoleLogger() });
 * const { allowed } = await limiter.consume("api:user-42", { points: 10, durationMs: 1_000 });
 * console.log(allowed);
 * ```
 */
export function withInsurance(
  primary: RateLimiter,
  insurance: RateLimiter,
  options: InsuranceOptions = {},
): RateLimiter {
  const settings = { ...DEFAULTS, ...options };
  const { log, onSwitch, probeMinMs, probeMaxMs, isOutage } = settings;
  let insured = false;
  let probing = false;
  let probeDelayMs = probeMinMs;
  let nextProbeAt = 0;

  const startOutage = (error: unknown) => {
    insured = true;
    probeDelayMs = probeMinMs;
    nextProbeAt = Date.now() + probeDelayMs;
    log.warn(
      `[conveyor] the ${primary.name} rate limiter is unreachable; rate limits are enforced per process while ${primary.name} is unreachable (by the ${insurance.name} limiter)`,
      { limiter: primary.name, error: error instanceof Error ? error.message : String(error) },
    );
    onSwitch?.("insurance", error);
  };

  const endOutage = () => {
    insured = false;
    log.info(`[conveyor] the ${primary.name} rate limiter answers again; rate limits are shared again`, {
      limiter: primary.name,
    });
    onSwitch?.("primary");
  };

  /** Asks the insurance when the primary failed with an outage; rethrows anything else. */
  const onPrimaryError = <T>(error: unknown, ask: (limiter: RateLimiter) => Promise<T>): Promise<T> => {
    if (!isOutage(error)) throw error;
    // Concurrent calls may all fail at once: only the first starts the outage.
    if (!insured) startOutage(error);
    return ask(insurance);
  };

  const probe = async <T>(ask: (limiter: RateLimiter) => Promise<T>): Promise<T> => {
    probing = true;
    try {
      const answer = await ask(primary);
      if (insured) endOutage();
      return answer;
    } catch (error) {
      if (!isOutage(error)) throw error;
      probeDelayMs = Math.min(probeDelayMs * 2, probeMaxMs);
      nextProbeAt = Date.now() + probeDelayMs;
      return ask(insurance);
    } finally {
      probing = false;
    }
  };

  /**
   * Asks the primary when it is in use or a probe is due; the insurance otherwise. The common
   * path (primary up) is one promise and one `catch`, no extra async frame: it runs on every call.
   */
  const route = <T>(ask: (limiter: RateLimiter) => Promise<T>): Promise<T> => {
    if (!insured) {
      let pending: Promise<T>;
      try {
        pending = ask(primary);
      } catch (error) {
        pending = Promise.reject(error);
      }
      return pending.catch((error: unknown) => onPrimaryError(error, ask));
    }
    if (probing || Date.now() < nextProbeAt) return ask(insurance);
    return probe(ask);
  };

  return {
    name: primary.name,
    consume(key: string, limit: RateLimit, cost?: number): Promise<RateLimitResult> {
      return route((limiter) => limiter.consume(key, limit, cost));
    },
    peek(key: string, limit: RateLimit): Promise<RateLimitResult> {
      return route((limiter) => limiter.peek(key, limit));
    },
    async reset(key: string): Promise<void> {
      await insurance.reset(key);
      await route(async (limiter) => {
        if (limiter !== insurance) await limiter.reset(key);
      });
    },
    async close(): Promise<void> {
      const results = await Promise.allSettled([primary.close(), insurance.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
}
