import { type AdapterContext, type AdapterModule, ConfigError, maskUrl } from "@conveyor/core";
import { createMemoryCache, type MemoryCacheOptions } from "./cache.js";
import { diagnoseMemory } from "./diagnose.js";
import { createMemoryQueue } from "./queue.js";
import { createMemoryRateLimiter, type MemoryRateLimiterOptions } from "./rate-limiter.js";

/**
 * The store name and query options of a `memory://` URL. `memory://name` names a store shared in
 * the process; `memory://` alone means a private one. Unknown options fail loudly rather than
 * being ignored.
 */
function readUrl(context: AdapterContext, what: string, allowed: readonly string[]) {
  const { parsed, url } = context;
  if (parsed.pathname !== "" && parsed.pathname !== "/") {
    throw new ConfigError(
      `"${maskUrl(url)}" has a path; a memory URL is memory://[store-name][?options]. Use memory://${parsed.hostname || "name"}.`,
      { scope: "memory" },
    );
  }
  if (parsed.port !== "" || parsed.username !== "" || parsed.password !== "") {
    throw new ConfigError(
      `"${maskUrl(url)}" has a port or credentials; a memory URL takes neither. Remove them.`,
      {
        scope: "memory",
      },
    );
  }
  for (const key of parsed.searchParams.keys()) {
    if (!allowed.includes(key)) {
      const accepted = allowed.length > 0 ? `Accepted: ${allowed.join(", ")}.` : "It takes no options.";
      throw new ConfigError(
        `unknown option "${key}" in the memory ${what} URL "${maskUrl(url)}". ${accepted}`,
        {
          scope: "memory",
        },
      );
    }
  }
  const store = decodeURIComponent(parsed.hostname);
  return { store: store === "" ? undefined : store, params: parsed.searchParams };
}

function positiveNumber(
  params: URLSearchParams,
  key: string,
  url: string,
  integer: boolean,
): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    const kind = integer ? "a positive integer" : "a positive number";
    throw new ConfigError(`the option ${key}=${raw} in "${maskUrl(url)}" must be ${kind}.`, {
      scope: "memory",
    });
  }
  return value;
}

/**
 * What the adapter registry of `@conveyor/core` loads for `memory://` URLs:
 *
 * - queue: `memory://` (private) or `memory://name` (shared by name in this process);
 * - cache: the same, plus `?max=<entries>&ttlMs=<ms>&namespace=<ns>`;
 * - rate limiter: `memory://` or `memory://name`, plus `?persist=<file>&persistIntervalMs=<ms>` to
 *   keep its windows across restarts.
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { conveyorAdapter } from "@conveyor/memory";
 *
 * const url = "memory://app?max=500&ttlMs=60000";
 * const cache = await conveyorAdapter.createCache?.({ url, parsed: parseUrl(url) });
 * ```
 */
export const conveyorAdapter: AdapterModule = {
  // `conveyor doctor`: an in-process queue is shared with no other process.
  diagnose: diagnoseMemory,
  createQueue(context) {
    const { store } = readUrl(context, "queue", []);
    return createMemoryQueue(store === undefined ? {} : { store });
  },
  createCache(context) {
    const { store, params } = readUrl(context, "cache", ["max", "ttlMs", "namespace"]);
    const options: MemoryCacheOptions = {};
    if (store !== undefined) options.store = store;
    const maxEntries = positiveNumber(params, "max", context.url, true);
    if (maxEntries !== undefined) options.maxEntries = maxEntries;
    const defaultTtlMs = positiveNumber(params, "ttlMs", context.url, false);
    if (defaultTtlMs !== undefined) options.defaultTtlMs = defaultTtlMs;
    const namespace = params.get("namespace");
    if (namespace !== null) options.namespace = namespace;
    return createMemoryCache(options);
  },
  createRateLimiter(context) {
    const { store, params } = readUrl(context, "rate limiter", ["persist", "persistIntervalMs"]);
    const options: MemoryRateLimiterOptions = {};
    if (store !== undefined) options.store = store;
    const persist = params.get("persist");
    if (persist !== null) {
      if (persist.trim() === "") {
        throw new ConfigError(
          `the option persist in "${maskUrl(context.url)}" must name a file, e.g. persist=./.conveyor/limits.json.`,
          { scope: "memory" },
        );
      }
      options.persistPath = persist;
    }
    const persistIntervalMs = positiveNumber(params, "persistIntervalMs", context.url, false);
    if (persistIntervalMs !== undefined) options.persistIntervalMs = persistIntervalMs;
    return createMemoryRateLimiter(options);
  },
};
