import { type AdapterModule, ConfigError, maskUrl } from "@conveyor/core";
import { diagnoseBeeQueue } from "./diagnose.js";
import { type BeeQueueOptions, createBeeQueue } from "./queue.js";
import { parseBeeQueueUrl } from "./url.js";

/**
 * What the adapter registry of `@conveyor/core` loads for `bee-queue+redis://` and
 * `bee-queue+rediss://` URLs: the queue only (use `redis://` or `memory://` for the cache and the
 * rate limiter).
 *
 * `bee-queue+redis://[[user]:password@]host[:port][/db]?prefix=<key prefix>&checkIntervalMs=<ms>&connectTimeoutMs=<ms>`
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { conveyorAdapter } from "@conveyor/bee-queue";
 *
 * const url = "bee-queue+redis://localhost:6379/0?prefix=bq";
 * const queue = await conveyorAdapter.createQueue?.({ url, parsed: parseUrl(url) });
 * ```
 */
export const conveyorAdapter: AdapterModule = {
  createQueue({ url }) {
    const { params } = parseBeeQueueUrl(url, ["prefix", "checkIntervalMs"]);
    // The client takes the URL without the adapter's own options.
    const plain = new URL(url.trim());
    plain.search = "";
    const connectTimeout = new URL(url.trim()).searchParams.get("connectTimeoutMs");
    if (connectTimeout !== null) plain.searchParams.set("connectTimeoutMs", connectTimeout);
    const options: BeeQueueOptions = { url: plain.href };
    const prefix = params.get("prefix");
    if (prefix !== null) options.prefix = prefix;
    const interval = params.get("checkIntervalMs");
    if (interval !== null) {
      const value = Number(interval);
      if (interval.trim() === "" || !Number.isFinite(value) || value <= 0) {
        throw new ConfigError(
          `the option checkIntervalMs=${interval} in "${maskUrl(url)}" must be a positive number of milliseconds.`,
          { scope: "bee-queue" },
        );
      }
      options.checkIntervalMs = value;
    }
    return createBeeQueue(options);
  },
  diagnose: diagnoseBeeQueue,
};
