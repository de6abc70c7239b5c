import type { RateLimiter } from "@conveyor/core";
import { afterEach } from "vitest";
import {
  type RateLimiterConformanceOptions,
  randomPrefix,
  type WaitForOptions,
  waitFor,
} from "../conformance.js";

/** What every behaviour file of the rate-limiter suite is given. */
export interface RateLimiterSuite {
  readonly name: string;
  /** `n` ms times the suite's time scale. */
  ms(n: number): number;
  /** A fresh rate limiter with a random prefix; closed after the test. */
  create(): Promise<RateLimiter>;
  /** Polls `probe` until truthy, with a deadline scaled by the suite's time scale. */
  waitFor<T>(probe: () => T | Promise<T>, message?: string): Promise<NonNullable<T>>;
}

/** Builds the shared context of the rate-limiter suite and registers the hook that closes its limiters. */
export function createRateLimiterSuite(
  options: RateLimiterConformanceOptions,
  timeScale: number,
): RateLimiterSuite {
  const open: RateLimiter[] = [];
  afterEach(async () => {
    const closing = open.splice(0);
    const results = await Promise.allSettled(closing.map((limiter) => limiter.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  });
  const ms = (n: number) => Math.round(n * timeScale);
  return {
    name: options.name,
    ms,
    async create() {
      const limiter = await options.create({ prefix: randomPrefix() });
      open.push(limiter);
      return limiter;
    },
    waitFor(probe, message) {
      const settings: WaitForOptions = { timeoutMs: ms(5_000), ...(message ? { message } : {}) };
      return waitFor(probe, settings);
    },
  };
}
