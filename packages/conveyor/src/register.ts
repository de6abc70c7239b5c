import { registerAdapter } from "@conveyor/core";

/**
 * Points `memory://` and `disk://` at the `@conveyor/memory` and `@conveyor/disk` this package depends on. The core's registry would
 * otherwise resolve `@conveyor/memory` from the application's root, which under pnpm's strict
 * node_modules fails for an application that only declares `conveyor`. Importing `conveyor` calls
 * this already; call it again only after another `registerAdapter("memory", …)` to undo that.
 *
 * @example
 * ```ts
 * import { createConveyor, registerEmbeddedAdapters } from "conveyor";
 *
 * registerEmbeddedAdapters();
 * const conveyor = await createConveyor({ url: "memory://", logger: false });
 * await conveyor.close();
 * ```
 */
export function registerEmbeddedAdapters(): void {
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
  // Imported only when a disk:// URL is used, so apps on memory:// never load the native SQLite module.
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
}
