import type { Cache } from "@conveyor/core";
import { afterEach } from "vitest";
import { type CacheConformanceOptions, randomPrefix, type WaitForOptions, waitFor } from "../conformance.js";

/** What every behaviour file of the cache suite is given. */
export interface CacheSuite {
  readonly name: string;
  /** `n` ms times the suite's time scale. */
  ms(n: number): number;
  /** A fresh cache in a fresh random namespace (or the one given); closed after the test. */
  create(namespace?: string): Promise<Cache>;
  /** A namespace unique to this call. */
  namespace(): string;
  /** Polls `probe` until truthy, with a deadline scaled by the suite's time scale. */
  waitFor<T>(probe: () => T | Promise<T>, message?: string): Promise<NonNullable<T>>;
}

/** Builds the shared context of the cache suite and registers the hook that closes its caches. */
export function createCacheSuite(options: CacheConformanceOptions, timeScale: number): CacheSuite {
  const open: Cache[] = [];
  afterEach(async () => {
    const closing = open.splice(0);
    const results = await Promise.allSettled(closing.map((cache) => cache.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  });
  const ms = (n: number) => Math.round(n * timeScale);
  return {
    name: options.name,
    ms,
    namespace: randomPrefix,
    async create(namespace = randomPrefix()) {
      const cache = await options.create({ namespace });
      open.push(cache);
      return cache;
    },
    waitFor(probe, message) {
      const settings: WaitForOptions = { timeoutMs: ms(5_000), ...(message ? { message } : {}) };
      return waitFor(probe, settings);
    },
  };
}
