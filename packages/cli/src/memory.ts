import { registerAdapter } from "@conveyor/core";

/**
 * Points the `memory://` scheme at the `@conveyor/memory` this package depends on. The core's
 * registry otherwise resolves `@conveyor/memory` from the application's root, which under pnpm's
 * strict node_modules only works when the application declares it; the CLI must run the embedded
 * default wherever it is installed. {@link runCli} calls this itself.
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { registerMemoryAdapter } from "@conveyor/cli";
 *
 * registerMemoryAdapter();
 * const conveyor = await createConveyor({ url: "memory://", logger: false });
 * await conveyor.close();
 * ```
 */
export function registerMemoryAdapter(): void {
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
}
