import type { DiagnoseContext, Diagnosis, DiagnosticCheck } from "@conveyor/core";
import { maskUrlsIn } from "@conveyor/core";
import { persistenceProblems } from "./connection.js";

const messageOf = (error: unknown) => maskUrlsIn(error instanceof Error ? error.message : String(error));

/** `key:value` lines of an INFO section. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function timeout<T>(ms: number, what: string, pending: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    pending,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Judges the persistence settings for what the URL serves: losing a queue loses jobs, losing a cache loses nothing. */
function persistenceCheck(
  kind: DiagnoseContext["kind"],
  settings: { appendonly: string; save: string },
): DiagnosticCheck {
  const found = `appendonly ${settings.appendonly}, save "${settings.save}"`;
  const problem = persistenceProblems({ ...settings, maxmemoryPolicy: undefined })[0];
  if (!problem) return { name: "persistence", status: "ok", message: `${found}: data survives a restart` };
  if (kind === "cache") {
    return {
      name: "persistence",
      status: "ok",
      message: `${found}: the cache starts empty after a Redis restart (fine for a cache)`,
    };
  }
  const lost = kind === "queue" ? "every job in it is lost" : "every rate-limit window starts afresh";
  return {
    name: "persistence",
    status: "warn",
    message: `${found}: when Redis restarts ${lost}`,
    fix: "Turn on the append-only file: appendonly yes (CONFIG SET appendonly yes, and in redis.conf).",
  };
}

function evictionCheck(kind: DiagnoseContext["kind"], policy: string, maxmemory: number): DiagnosticCheck {
  const found = `maxmemory-policy ${policy}${maxmemory > 0 ? `, maxmemory ${maxmemory} bytes` : ", no maxmemory"}`;
  if (policy === "noeviction") {
    if (kind === "cache" && maxmemory > 0) {
      return {
        name: "maxmemory-policy",
        status: "ok",
        message: `${found}: cache writes fail once memory is full (the tiered cache then skips this tier)`,
      };
    }
    return { name: "maxmemory-policy", status: "ok", message: `${found}: Redis never drops keys` };
  }
  if (kind === "cache") {
    return {
      name: "maxmemory-policy",
      status: "ok",
      message: `${found}: evicts entries when full (fine for a cache)`,
    };
  }
  const fix = `Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or give the ${kind === "queue" ? "queue" : "rate limiter"} a Redis of its own.`;
  if (kind === "queue") {
    return {
      name: "maxmemory-policy",
      status: "fail",
      message: `${found}: under memory pressure Redis may evict job keys, and those jobs are lost`,
      fix,
    };
  }
  return {
    name: "maxmemory-policy",
    status: "warn",
    message: `${found}: under memory pressure Redis may evict rate-limit windows, granting points again`,
    fix,
  };
}

/** What {@link diagnoseRedisServer} asks of the adapter's client, each answer within the doctor's timeout. */
export interface RedisProbe {
  /** Connects (one attempt, no reconnecting: the doctor reports what it finds now). */
  connect(): Promise<unknown>;
  /** `PING`. */
  ping(): Promise<unknown>;
  /** `INFO <section>` as text. */
  info(section: string): Promise<string>;
  /** `CONFIG GET <parameter>`: the value, or undefined. */
  configGet(parameter: string): Promise<string | undefined>;
  /** Closes the connection at once. */
  close(): void;
}

/** The Redis versions an adapter needs, for the `version` check. */
export interface RedisVersionNeeds {
  /** Below this the adapter cannot work: a failed check. */
  minimum: string;
  /** What an older server lacks, for the message ("streams and ZPOPMIN"). */
  lacks: string;
  /** Below this (and at or above `minimum`) a warning: not tested. @defaultValue `"6.2.0"` */
  tested?: string;
}

/**
 * The checks of `conveyor doctor` on one Redis server, through the adapter's own client:
 * reachable (median PING latency of 5), version against `needs`, memory use, persistence
 * (`appendonly`, `save`) and `maxmemory-policy`, judged for what the URL serves (`kind`: losing a
 * queue loses jobs, losing a cache loses nothing). Never throws: a server that is down is a
 * failed `reachable` check, and the probe is closed in every case.
 *
 * @example
 * ```ts
 * import { diagnoseRedisServer } from "@conveyor/redis-kit";
 * import { Redis } from "ioredis";
 *
 * const client = new Redis({ lazyConnect: true, retryStrategy: () => null });
 * const { checks } = await diagnoseRedisServer(
 *   {
 *     connect: () => client.connect(),
 *     ping: () => client.ping(),
 *     info: (section) => client.info(section),
 *     configGet: async (parameter) => ((await client.config("GET", parameter)) as string[])[1],
 *     close: () => client.disconnect(),
 *   },
 *   { kind: "queue", timeoutMs: 2_000, masked: "redis://localhost:6379", needs: { minimum: "6.2.0", lacks: "LMPOP" }, scheme: "redis" },
 * );
 * ```
 */
export async function diagnoseRedisServer(
  probe: RedisProbe,
  options: {
    kind: DiagnoseContext["kind"];
    timeoutMs: number;
    /** The URL with its password hidden. */
    masked: string;
    needs: RedisVersionNeeds;
    /** The adapter's scheme prefix for the TLS hint (`bee-queue+rediss://`); none for `rediss://`. */
    scheme?: string;
  },
): Promise<Diagnosis> {
  const { kind, timeoutMs, masked, needs } = options;
  const tls = `${options.scheme ? `${options.scheme}+` : ""}rediss://`;
  const checks: DiagnosticCheck[] = [];
  try {
    try {
      await timeout(timeoutMs, "connect", probe.connect());
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await timeout(timeoutMs, "PING", probe.ping());
        latencies.push(performance.now() - started);
      }
      const latencyMs = Math.round(median(latencies) * 100) / 100;
      checks.push({
        name: "reachable",
        status: "ok",
        message: `${masked} answers PING in ${latencyMs} ms (median of 5)`,
      });
    } catch (error) {
      checks.push({
        name: "reachable",
        status: "fail",
        message: `${masked}: ${messageOf(error)}`,
        fix: `Start Redis, or fix the host, port, password and TLS (${tls}) in the URL.`,
      });
      return { checks };
    }

    let version: string | undefined;
    try {
      const server = infoFields(await timeout(timeoutMs, "INFO", probe.info("server")));
      const memory = infoFields(await timeout(timeoutMs, "INFO", probe.info("memory")));
      const found = server.get("redis_version");
      const mode = server.get("redis_mode");
      if (found) {
        version = `Redis ${found}${mode && mode !== "standalone" ? ` (${mode})` : ""}`;
        if (compareVersions(found, needs.minimum) < 0) {
          checks.push({
            name: "version",
            status: "fail",
            message: `Redis ${found} lacks ${needs.lacks}, which the adapter uses`,
            fix: "Upgrade Redis to 6.2 or later.",
          });
        } else if (compareVersions(found, needs.tested ?? "6.2.0") < 0) {
          checks.push({
            name: "version",
            status: "warn",
            message: `Redis ${found} is older than the versions Conveyor is tested on (6.2 and later)`,
            fix: "Upgrade Redis to 6.2 or later.",
          });
        } else checks.push({ name: "version", status: "ok", message: version });
      }
      const used = Number(memory.get("used_memory"));
      const max = Number(memory.get("maxmemory"));
      if (max > 0 && used / max > 0.9) {
        checks.push({
          name: "memory",
          status: "warn",
          message: `${used} of ${max} bytes used (${Math.round((used / max) * 100)} %)`,
          fix: "Raise maxmemory, or remove old jobs (conveyor purge) and cache entries.",
        });
      } else if (Number.isFinite(used)) {
        const of = max > 0 ? ` of ${max}` : "";
        checks.push({ name: "memory", status: "ok", message: `${used}${of} bytes used` });
      }
    } catch (error) {
      checks.push({ name: "version", status: "warn", message: `INFO failed: ${messageOf(error)}` });
    }

    try {
      const [appendonly, save, policy, maxmemory] = await Promise.all(
        ["appendonly", "save", "maxmemory-policy", "maxmemory"].map((parameter) =>
          timeout(timeoutMs, "CONFIG GET", probe.configGet(parameter)),
        ),
      );
      if (appendonly !== undefined && save !== undefined) {
        checks.push(persistenceCheck(kind, { appendonly, save }));
      }
      if (policy !== undefined) checks.push(evictionCheck(kind, policy, Number(maxmemory ?? 0)));
    } catch (error) {
      // Managed services often disable or rename CONFIG.
      checks.push({
        name: "persistence",
        status: "warn",
        message: `could not read the configuration (${messageOf(error)})`,
        fix: "CONFIG is disabled or renamed here: check appendonly and maxmemory-policy in your provider's console.",
      });
    }
    return { ...(version ? { version } : {}), checks };
  } finally {
    probe.close();
  }
}
