import type { AdapterModule } from "@conveyor/core";
import { createDiskCache } from "./cache.js";
import { diagnoseDisk } from "./diagnose.js";
import { createDiskQueue } from "./queue.js";

/**
 * What the adapter registry of `@conveyor/core` loads for `disk://` URLs. The folder is the URL's
 * host and path (`disk://./.conveyor` relative to the working directory, `disk:///var/lib/app`
 * absolute); the queue lives in `<folder>/queue.sqlite`, the cache in `<folder>/cache.sqlite`.
 *
 * - queue: `?durability=full&leaseMs=30000&pollIntervalMs=50&minPollMs=5&busyTimeoutMs=5000&eventRetentionMs=300000&maxEvents=100000`;
 * - cache: `?namespace=app&max=100000&maxBytes=268435456&ttlMs=60000&durability=full&busyTimeoutMs=5000`.
 *
 * Unknown options fail loudly with a `ConfigError` rather than being ignored.
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { conveyorAdapter } from "@conveyor/disk";
 *
 * const url = "disk://./.conveyor?durability=full";
 * const queue = await conveyorAdapter.createQueue?.({ url, parsed: parseUrl(url) });
 * await queue?.close();
 * ```
 */
export const conveyorAdapter: AdapterModule = {
  // `conveyor doctor`: folder, file system, free space, SQLite version, WAL, durability.
  diagnose: diagnoseDisk,
  createQueue(context) {
    return createDiskQueue({ url: context.url });
  },
  createCache(context) {
    return createDiskCache({ url: context.url });
  },
};
