import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Cache } from "./contracts/cache.js";
import type { QueueAdapter } from "./contracts/queue.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { DiagnoseContext, Diagnosis } from "./diagnostics.js";
import { AdapterNotInstalledError, ConfigError, UnsupportedFeatureError } from "./errors.js";
import { maskUrl, parseUrl, urlScheme } from "./url.js";

/** What an adapter is told when the registry creates it from a URL. */
export interface AdapterContext {
  /** The full URL as configured (may hold a password: mask it before printing). */
  url: string;
  /** The parsed URL. */
  parsed: URL;
}

/**
 * What an adapter package exports as `conveyorAdapter` so a URL scheme can create it.
 * Each member is optional: a package may provide only a queue, or only a cache.
 */
export interface AdapterModule {
  /** Creates the queue adapter for a URL of this scheme. */
  createQueue?(context: AdapterContext): QueueAdapter | Promise<QueueAdapter>;
  /** Creates the cache for a URL of this scheme. */
  createCache?(context: AdapterContext): Cache | Promise<Cache>;
  /** Creates the rate limiter for a URL of this scheme. */
  createRateLimiter?(context: AdapterContext): RateLimiter | Promise<RateLimiter>;
  /**
   * Checks the backend behind a URL for `conveyor doctor` (`diagnoseBackends`): reachable (a
   * check named `"reachable"`; when it fails no round trip is tried), version, and the settings
   * that matter for `context.kind`, each with what to fix. Must not throw for a backend that is
   * down: that is a failed check.
   */
  diagnose?(context: DiagnoseContext): Promise<Diagnosis>;
}

/** How to find the adapter module of a scheme. */
export interface AdapterRegistration {
  /** The npm package that provides the adapter (used in install hints). */
  packageName: string;
  /**
   * Imports the module. When omitted, the package is resolved from the application's root
   * (`process.cwd()` or the configured root), then from Conveyor's own location.
   */
  load?: () => Promise<AdapterModule | { conveyorAdapter: AdapterModule }>;
}

const registry = new Map<string, AdapterRegistration>([
  ["memory", { packageName: "@conveyor/memory" }],
  ["disk", { packageName: "@conveyor/disk" }],
  ["redis", { packageName: "@conveyor/redis" }],
  ["rediss", { packageName: "@conveyor/redis" }],
  ["bullmq+redis", { packageName: "@conveyor/bullmq" }],
  ["bullmq+rediss", { packageName: "@conveyor/bullmq" }],
  ["bee-queue+redis", { packageName: "@conveyor/bee-queue" }],
  ["bee-queue+rediss", { packageName: "@conveyor/bee-queue" }],
]);

/**
 * Maps a URL scheme to an adapter package, for third-party adapters or to load a built-in
 * one from a specific place. A later registration of the same scheme wins.
 *
 * @example
 * ```ts
 * import { registerAdapter } from "@conveyor/core";
 * registerAdapter("sqs", { packageName: "conveyor-sqs", load: () => import("conveyor-sqs") });
 * ```
 */
export function registerAdapter(scheme: string, registration: AdapterRegistration): void {
  registry.set(scheme.toLowerCase().replace(/:(\/\/)?$/, ""), registration);
}

/** The schemes the registry knows, with their packages. */
export function registeredSchemes(): { scheme: string; packageName: string }[] {
  return [...registry].map(([scheme, r]) => ({ scheme, packageName: r.packageName }));
}

function isMissingModule(error: unknown, packageName: string): boolean {
  const code = (error as { code?: string })?.code;
  const message = String((error as Error)?.message ?? "");
  return (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") && message.includes(packageName);
}

/**
 * The file a package's `import` condition points at, so an ESM app and the adapter share one
 * copy of the core (resolving with `require` would pick the CJS build and load core twice).
 */
function resolveEntry(require: NodeJS.Require, packageName: string): string {
  let manifestPath: string | undefined;
  try {
    manifestPath = require.resolve(`${packageName}/package.json`);
  } catch {
    return require.resolve(packageName);
  }
  const manifest = require(manifestPath) as { exports?: unknown; module?: string };
  let entry: unknown = manifest.exports;
  if (entry && typeof entry === "object" && "." in entry) entry = (entry as Record<string, unknown>)["."];
  for (const condition of ["import", "node", "default"]) {
    if (entry && typeof entry === "object" && condition in entry) {
      entry = (entry as Record<string, unknown>)[condition];
      if (entry && typeof entry === "object" && "default" in entry)
        entry = (entry as Record<string, unknown>).default;
      break;
    }
  }
  if (typeof entry === "string") return join(dirname(manifestPath), entry);
  return manifest.module ? join(dirname(manifestPath), manifest.module) : require.resolve(packageName);
}

async function importFromRoots(packageName: string, roots: readonly string[]): Promise<unknown> {
  for (const root of roots) {
    let resolved: string;
    try {
      resolved = resolveEntry(createRequire(join(root, "__conveyor__.js")), packageName);
    } catch {
      continue;
    }
    try {
      return await import(pathToFileURL(resolved).href);
    } catch (cause) {
      throw new ConfigError(
        `the package ${packageName} is installed (${resolved}) but could not be loaded: ${(cause as Error)?.message ?? cause}. Reinstall or rebuild it.`,
        { cause },
      );
    }
  }
  try {
    return await import(packageName);
  } catch (error) {
    if (isMissingModule(error, packageName)) return undefined;
    throw error;
  }
}

const loaded = new Map<string, Promise<AdapterModule>>();

/** Loads the adapter module for a scheme; throws `AdapterNotInstalledError` with the install command. */
export async function loadAdapterModule(
  scheme: string,
  roots: readonly string[] = [process.cwd()],
): Promise<AdapterModule> {
  const registration = registry.get(scheme);
  if (!registration) {
    const known = [...registry.keys()].map((s) => `${s}://`).join(", ");
    throw new ConfigError(
      `no adapter is registered for "${scheme}://". Known schemes: ${known}. Register one with registerAdapter().`,
    );
  }
  const key = `${scheme}\0${registration.packageName}\0${roots.join("\0")}`;
  let pending = loaded.get(key);
  if (!pending) {
    pending = (async () => {
      const mod = (
        registration.load ? await registration.load() : await importFromRoots(registration.packageName, roots)
      ) as { conveyorAdapter?: AdapterModule; default?: { conveyorAdapter?: AdapterModule } } | undefined;
      const adapter =
        mod?.conveyorAdapter ?? mod?.default?.conveyorAdapter ?? (mod as AdapterModule | undefined);
      if (!mod || !adapter) throw new AdapterNotInstalledError(scheme, registration.packageName);
      return adapter;
    })();
    loaded.set(key, pending);
    pending.catch(() => loaded.delete(key));
  }
  return pending;
}

type Kind = "queue" | "cache" | "rateLimiter";
const FACTORY = { queue: "createQueue", cache: "createCache", rateLimiter: "createRateLimiter" } as const;
const FEATURE = { queue: "queues", cache: "caching", rateLimiter: "rate limiting" } as const;

/** Creates the adapter of `kind` for a URL through the registry. */
export async function createFromUrl(
  kind: "queue",
  url: string,
  roots?: readonly string[],
): Promise<QueueAdapter>;
export async function createFromUrl(kind: "cache", url: string, roots?: readonly string[]): Promise<Cache>;
export async function createFromUrl(
  kind: "rateLimiter",
  url: string,
  roots?: readonly string[],
): Promise<RateLimiter>;
export async function createFromUrl(kind: Kind, url: string, roots?: readonly string[]): Promise<unknown> {
  const scheme = urlScheme(url);
  const parsed = parseUrl(url);
  const mod = await loadAdapterModule(scheme, roots);
  const factory = mod[FACTORY[kind]] as ((context: AdapterContext) => unknown) | undefined;
  if (!factory)
    throw new UnsupportedFeatureError(
      registry.get(scheme)?.packageName ?? scheme,
      `${FEATURE[kind]} (${maskUrl(url)})`,
    );
  return factory({ url, parsed });
}
