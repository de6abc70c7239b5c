import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { WorkerConcurrency } from "./autoscale.js";
import type { Cache } from "./contracts/cache.js";
import type { QueueAdapter } from "./contracts/queue.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { ScheduleDefinition } from "./contracts/schedule.js";
import type { Logger, Plugin, Task } from "./contracts/task.js";
import { ConfigError } from "./errors.js";
import type { TieredCacheOptions } from "./tiered-cache.js";
import type { HeartbeatOptions } from "./workers.js";

/** Options of workers started from the config (CLI `conveyor worker`). */
export interface WorkerConfig {
  /** Queues to consume. @defaultValue every queue of the registered tasks */
  queues?: string[];
  /** Jobs run at once: a number, or `{ min, max }` to autoscale (see `AutoscaleOptions`). @defaultValue 1 */
  concurrency?: WorkerConcurrency;
  /** Recycle a worker after this many jobs (see `WorkerOptions.maxJobsPerProcess`). @defaultValue no limit */
  maxJobsPerProcess?: number;
  /** Recycle a worker above this resident memory in MiB (see `WorkerOptions.maxMemoryPerProcessMb`). @defaultValue no limit */
  maxMemoryPerProcessMb?: number;
}

/**
 * The platform configuration: `conveyor.config.ts`, an object given to `createConveyor`,
 * overridden by env vars (`CONVEYOR_URL`, `CONVEYOR_QUEUE_URL`, `CONVEYOR_CACHE_URL`,
 * `CONVEYOR_RATE_LIMIT_URL`) and CLI flags.
 */
export interface ConveyorConfig {
  /** One URL for queue, cache and rate limiter alike. @defaultValue "memory://" */
  url?: string;
  /** Queue backend: a URL or an adapter instance. @defaultValue {@link ConveyorConfig.url} */
  queue?: string | QueueAdapter;
  /**
   * Cache backend: a URL or an instance. A comma list of URLs, fastest first
   * (`"memory://?max=10000,redis://localhost:6379,disk://./.conveyor"`), builds a tiered cache
   * (see `createTieredCache`). @defaultValue {@link ConveyorConfig.url}
   */
  cache?: string | Cache;
  /** How a tiered cache built from a comma list of cache URLs behaves. @defaultValue the defaults of `createTieredCache` */
  tieredCache?: Omit<TieredCacheOptions, "log">;
  /** Rate-limiter backend: a URL or an instance. @defaultValue {@link ConveyorConfig.url} */
  rateLimiter?: string | RateLimiter;
  /** Tasks registered on the platform. */
  tasks?: readonly Task[];
  /** Plugins registered on the platform (their tasks and resources). */
  plugins?: readonly Plugin[];
  /** Queue of tasks that name none. @defaultValue "default" */
  defaultQueue?: string;
  /** How long results of completed (and cancelled) jobs are kept, in ms. @defaultValue 86_400_000 (1 day) */
  resultTtlMs?: number;
  /** How long failed jobs are kept, in ms; omitted keeps them until removed (dead letters). */
  failedTtlMs?: number;
  /** Defaults for workers started from the config. */
  worker?: WorkerConfig;
  /** Periodic tasks, upserted into the backend by the scheduler (`conveyor scheduler`, `createScheduler`). */
  schedules?: readonly ScheduleDefinition[];
  /**
   * How workers report themselves (host, pid, queues, concurrency, active jobs) in the cache, for
   * `inspect workers` and the HTTP API; `false` turns heartbeats off.
   * @defaultValue `{ intervalMs: 5_000, ttlMs: 15_000 }`
   */
  heartbeat?: HeartbeatOptions | false;
  /** Where lines go; `false` silences the runtime. @defaultValue a console logger at level info */
  logger?: Logger | false;
  /** Folders to resolve adapter packages from. @defaultValue [process.cwd()] */
  roots?: string[];
  /** Apply `CONVEYOR_*` env vars over this object. @defaultValue true */
  env?: boolean;
  /**
   * OpenTelemetry spans for enqueue (`conveyor.enqueue <task>`, PRODUCER) and for each attempt
   * (`conveyor.process <task>`, CONSUMER), with the trace context carried in the job's `meta`.
   * They are recorded only when `@opentelemetry/api` is installed and an SDK has registered a
   * tracer provider; `false` turns them off even then.
   * @defaultValue true
   */
  tracing?: boolean;
}

/** The env vars Conveyor reads. */
export const ENV_VARS = {
  url: "CONVEYOR_URL",
  queue: "CONVEYOR_QUEUE_URL",
  cache: "CONVEYOR_CACHE_URL",
  rateLimiter: "CONVEYOR_RATE_LIMIT_URL",
} as const;

/** Backend URLs after defaults, config and env were merged (instances stay as given). */
export interface ResolvedBackends {
  queue: string | QueueAdapter;
  cache: string | Cache;
  rateLimiter: string | RateLimiter;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}

/**
 * Resolves which backend each contract uses. Later wins: default `memory://` → config
 * `url` → config per-contract value → env `CONVEYOR_URL` → env per-contract var.
 * An adapter instance given in code is never replaced.
 */
export function resolveBackends(
  config: ConveyorConfig,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedBackends {
  const useEnv = config.env !== false;
  const pick = <T>(given: string | T | undefined, envVar: string): string | T => {
    if (given !== undefined && typeof given !== "string") return given;
    const fromEnv = useEnv ? (nonEmpty(env[envVar]) ?? nonEmpty(env[ENV_VARS.url])) : undefined;
    return fromEnv ?? nonEmpty(given as string | undefined) ?? nonEmpty(config.url) ?? "memory://";
  };
  return {
    queue: pick(config.queue, ENV_VARS.queue),
    cache: pick(config.cache, ENV_VARS.cache),
    rateLimiter: pick(config.rateLimiter, ENV_VARS.rateLimiter),
  };
}

/** Config file names looked for, in order. */
export const CONFIG_FILES = [
  "conveyor.config.ts",
  "conveyor.config.mts",
  "conveyor.config.js",
  "conveyor.config.mjs",
] as const;

/** Finds the config file in `cwd`, or `undefined`. */
export function findConfigFile(cwd: string = process.cwd()): string | undefined {
  for (const name of CONFIG_FILES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Loads `conveyor.config.{ts,mts,js,mjs}` (or `file`) and returns its default export.
 * TypeScript files are loaded through jiti, so no build step is needed.
 * Returns `{}` when there is no config file and none was asked for.
 *
 * @example
 * ```ts
 * import { createConveyor, loadConfig } from "@conveyor/core";
 * const conveyor = await createConveyor(await loadConfig());
 * ```
 */
export async function loadConfig(options: { cwd?: string; file?: string } = {}): Promise<ConveyorConfig> {
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ? resolve(cwd, options.file) : findConfigFile(cwd);
  if (!file) return {};
  if (!existsSync(file))
    throw new ConfigError(`config file ${file} does not exist. Check the --config path.`);
  let mod: unknown;
  try {
    if (/\.[mc]?ts$/.test(file)) {
      const { createJiti } = await import("jiti");
      mod = await createJiti(pathToFileURL(file).href, { interopDefault: true }).import(file);
    } else {
      mod = await import(pathToFileURL(file).href);
    }
  } catch (cause) {
    throw new ConfigError(
      `could not load ${file}: ${(cause as Error)?.message ?? cause}. Fix the error in that file.`,
      { cause },
    );
  }
  const value = (mod as { default?: unknown })?.default ?? mod;
  const config = typeof value === "function" ? await (value as () => unknown)() : value;
  if (!config || typeof config !== "object") {
    throw new ConfigError(
      `${file} must export a config object as default: export default defineConfig({ ... }).`,
    );
  }
  return { roots: [cwd], ...(config as ConveyorConfig) };
}
