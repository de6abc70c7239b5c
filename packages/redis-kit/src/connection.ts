import { BackendUnavailableError, isConveyorError, type Logger, maskUrlsIn } from "@conveyor/core";

/**
 * Reconnect delay for attempt `attempt` (1-based): 50 ms, doubling up to 2 s, with ±20 % jitter so
 * a fleet does not reconnect in step. Fits ioredis's `retryStrategy` and node-redis's
 * `reconnectStrategy` as it is.
 *
 * @example
 * ```ts
 * import { backoffMs } from "@conveyor/redis-kit";
 * const options = { retryStrategy: backoffMs }; // ioredis
 * ```
 */
export function backoffMs(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.max(0, attempt - 1), 2_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Turns a client error into a `BackendUnavailableError` naming the masked URL (any URL in the
 * client's message is masked too); Conveyor errors pass through unchanged.
 *
 * @example
 * ```ts
 * import { toBackendError } from "@conveyor/redis-kit";
 * const error = toBackendError("redis://:***@h:6379/0", new Error("connect ECONNREFUSED"), "bullmq");
 * // BackendUnavailableError: Redis at redis://:***@h:6379/0 is unavailable: connect ECONNREFUSED …
 * ```
 */
export function toBackendError(masked: string, cause: unknown, scope = "redis"): Error {
  if (isConveyorError(cause)) return cause;
  const reason = cause instanceof Error ? cause.message || cause.name : String(cause);
  return new BackendUnavailableError(`Redis at ${masked}`, maskUrlsIn(reason.replace(/\.$/, "")), {
    scope,
    cause,
    details: { url: masked },
  });
}

/** The Redis settings that decide whether data survives a restart and memory pressure. */
export interface PersistenceSettings {
  /** `CONFIG GET appendonly`; undefined when unknown. */
  appendonly: string | undefined;
  /** `CONFIG GET save` (the RDB save points; `""` for none); undefined when unknown. */
  save: string | undefined;
  /** `CONFIG GET maxmemory-policy`; undefined when unknown. */
  maxmemoryPolicy: string | undefined;
}

/** One thing {@link persistenceProblems} found wrong. */
export interface PersistenceProblem {
  /** The setting at fault. */
  setting: "persistence" | "maxmemory-policy";
  /** What it means and what to set, as one sentence without its final period. */
  problem: string;
}

/**
 * What is wrong with a server's persistence settings, as the startup check and `conveyor doctor`
 * report it: no persistence at all (`appendonly no` and no save points), or a `maxmemory-policy`
 * that evicts keys. Unknown values (CONFIG disabled) raise nothing.
 *
 * @example
 * ```ts
 * import { persistenceProblems } from "@conveyor/redis-kit";
 * persistenceProblems({ appendonly: "no", save: "", maxmemoryPolicy: "allkeys-lru" }).length; // 2
 * ```
 */
export function persistenceProblems(settings: PersistenceSettings): PersistenceProblem[] {
  const { appendonly, save, maxmemoryPolicy } = settings;
  const problems: PersistenceProblem[] = [];
  if (appendonly !== undefined && save !== undefined && appendonly !== "yes" && save.trim() === "") {
    problems.push({
      setting: "persistence",
      problem:
        "it has no persistence (appendonly no, no save points): everything in it is lost when it restarts. Turn on appendonly yes",
    });
  }
  if (maxmemoryPolicy !== undefined && maxmemoryPolicy !== "noeviction") {
    problems.push({
      setting: "maxmemory-policy",
      problem: `its maxmemory-policy is ${maxmemoryPolicy}: it may evict keys under memory pressure. Set maxmemory-policy noeviction`,
    });
  }
  return problems;
}

/** What {@link warnAboutPersistence} needs: one server, how to read its configuration, where to warn. */
export interface PersistenceCheck {
  /** Identifies the server (host:port, or the Sentinel group or Cluster seeds): checked once per process. */
  server: string;
  /** The URL with its password hidden, for the warning. */
  masked: string;
  /** The adapter, shown as `[conveyor:<scope>]`. */
  scope: string;
  log: Logger;
  /** `CONFIG GET <parameter>` through the adapter's client: the value, or undefined. */
  configGet(parameter: string): Promise<string | undefined>;
}

const checkedServers = new Set<string>();

/**
 * Warns once per server and process when Redis would lose data on a restart (no AOF, no RDB save
 * points) or may evict keys (`maxmemory-policy` other than `noeviction`). A server whose CONFIG is
 * disabled or renamed (managed services) is skipped with a debug line: the check is advice.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@conveyor/core";
 * import { warnAboutPersistence } from "@conveyor/redis-kit";
 * import { Redis } from "ioredis";
 *
 * const client = new Redis();
 * await warnAboutPersistence({
 *   server: "localhost:6379",
 *   masked: "redis://localhost:6379",
 *   scope: "my-adapter",
 *   log: consoleLogger(),
 *   configGet: async (parameter) => ((await client.config("GET", parameter)) as string[])[1],
 * });
 * ```
 */
export async function warnAboutPersistence(check: PersistenceCheck): Promise<void> {
  const { server, masked, scope, log } = check;
  if (checkedServers.has(server)) return;
  checkedServers.add(server);
  let settings: PersistenceSettings;
  try {
    const [appendonly, save, maxmemoryPolicy] = await Promise.all(
      ["appendonly", "save", "maxmemory-policy"].map((parameter) => check.configGet(parameter)),
    );
    settings = { appendonly, save, maxmemoryPolicy };
  } catch (error) {
    // Managed services often disable or rename CONFIG; the check is advice, not a requirement.
    log.debug(`[conveyor:${scope}] could not read the Redis configuration; skipping the persistence check`, {
      url: masked,
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  const problems = persistenceProblems(settings).map((p) => p.problem);
  if (problems.length > 0) {
    log.warn(`[conveyor:${scope}] Redis at ${masked}: ${problems.join("; ")}.`, { url: masked, ...settings });
  }
}
