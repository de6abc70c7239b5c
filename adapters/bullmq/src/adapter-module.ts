import type { AdapterModule } from "@conveyor/core";
import { type BullmqQueueOptions, createBullmqQueue } from "./queue.js";
import { parseBullmqUrl, positiveParam } from "./url.js";

/**
 * What the adapter registry of `@conveyor/core` loads for `bullmq+redis://` and
 * `bullmq+rediss://` URLs: the queue,
 * `bullmq+redis://[[user]:password@]host:6379/0?prefix=<p>&maxEvents=<n>&stalledIntervalMs=<ms>&maxStalledCount=<n>&connectTimeoutMs=<ms>`.
 * BullMQ offers no cache or rate limiter: use `redis://` for those.
 *
 * @example
 * ```ts
 * import { conveyorAdapter } from "@conveyor/bullmq";
 * import { parseUrl } from "@conveyor/core";
 *
 * const url = "bullmq+redis://localhost:6379/0?prefix=myapp";
 * const queue = await conveyorAdapter.createQueue?.({ url, parsed: parseUrl(url) });
 * ```
 */
export const conveyorAdapter: AdapterModule = {
  createQueue({ url }) {
    const { target, params } = parseBullmqUrl(url);
    const options: BullmqQueueOptions = { url, connectTimeoutMs: target.connectTimeoutMs };
    const prefix = params.get("prefix");
    if (prefix !== null) options.prefix = prefix;
    for (const name of ["maxEvents", "stalledIntervalMs", "maxStalledCount"] as const) {
      const value = positiveParam(params, name, url);
      if (value !== undefined) options[name] = value;
    }
    return createBullmqQueue(options);
  },
};
