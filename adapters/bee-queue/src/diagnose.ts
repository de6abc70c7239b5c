import { type DiagnoseContext, type Diagnosis, type DiagnosticCheck, maskUrlsIn } from "@conveyor/core";
import { createClient, type RedisClient } from "redis";
import { call, clientOptions } from "./connection.js";
import { parseBeeQueueUrl } from "./url.js";

const messageOf = (error: unknown) => maskUrlsIn(error instanceof Error ? error.message : String(error));

function timeout<T>(ms: number, what: string, pending: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    pending,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** `key:value` lines of an INFO reply. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

const atLeast = (found: string, wanted: readonly number[]) => {
  const parts = found.split(".").map(Number);
  for (let i = 0; i < wanted.length; i++) {
    const diff = (parts[i] ?? 0) - wanted[i]!;
    if (diff !== 0) return diff > 0;
  }
  return true;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/**
 * Checks the Redis server behind a `bee-queue+redis://` URL for `conveyor doctor`: reachable
 * (PING latency), version (the adapter's scripts need Redis 6.0.6 or later), persistence
 * (`appendonly`, `save`: without them every job is lost when Redis restarts) and
 * `maxmemory-policy` (anything but `noeviction` may evict job keys). Opens its own short-lived
 * connection and never throws for a server that is down (that is a failed `reachable` check).
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { diagnoseBeeQueue } from "@conveyor/bee-queue";
 *
 * const url = "bee-queue+redis://localhost:6379/0";
 * const { checks } = await diagnoseBeeQueue({ url, parsed: parseUrl(url), kind: "queue", timeoutMs: 2_000 });
 * for (const check of checks) console.log(check.status, check.name, check.message);
 * ```
 */
export async function diagnoseBeeQueue(context: DiagnoseContext): Promise<Diagnosis> {
  const { timeoutMs } = context;
  const checks: DiagnosticCheck[] = [];
  let target: ReturnType<typeof parseBeeQueueUrl>["target"];
  try {
    ({ target } = parseBeeQueueUrl(context.url, ["prefix", "checkIntervalMs"]));
  } catch (error) {
    return {
      checks: [{ name: "url", status: "fail", message: messageOf(error), fix: "Fix the Bee-Queue URL." }],
    };
  }
  // One attempt, no reconnecting: the doctor reports what it finds now.
  const client: RedisClient = createClient({ ...clientOptions(target), retry_strategy: () => undefined });
  client.on("error", () => {});
  const command = <T>(name: string, ...args: string[]) =>
    timeout(
      timeoutMs,
      name,
      call<T>((done) => client.send_command(name, args, done as never)),
    );
  try {
    try {
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await command("PING");
        latencies.push(performance.now() - started);
      }
      checks.push({
        name: "reachable",
        status: "ok",
        message: `${target.masked} answers PING in ${Math.round(median(latencies) * 100) / 100} ms (median of 5)`,
      });
    } catch (error) {
      checks.push({
        name: "reachable",
        status: "fail",
        message: `${target.masked}: ${messageOf(error)}`,
        fix: "Start Redis, or fix the host, port, password and TLS (bee-queue+rediss://) in the URL.",
      });
      return { checks };
    }

    let version: string | undefined;
    try {
      const found = infoFields(await command<string>("INFO", "server")).get("redis_version");
      if (found) {
        version = `Redis ${found}`;
        checks.push(
          atLeast(found, [6, 0, 6])
            ? { name: "version", status: "ok", message: version }
            : {
                name: "version",
                status: "fail",
                message: `Redis ${found} lacks LPOS, which the adapter's scripts use`,
                fix: "Upgrade Redis to 6.2 or later.",
              },
        );
      }
    } catch (error) {
      checks.push({ name: "version", status: "warn", message: `INFO failed: ${messageOf(error)}` });
    }

    try {
      const get = async (parameter: string) => (await command<string[]>("CONFIG", "GET", parameter))[1];
      const [appendonly, save, policy] = await Promise.all([
        get("appendonly"),
        get("save"),
        get("maxmemory-policy"),
      ]);
      if (appendonly !== undefined && save !== undefined) {
        const found = `appendonly ${appendonly}, save "${save}"`;
        checks.push(
          appendonly === "yes" || save.trim() !== ""
            ? { name: "persistence", status: "ok", message: `${found}: jobs survive a restart` }
            : {
                name: "persistence",
                status: "warn",
                message: `${found}: when Redis restarts every job in it is lost`,
                fix: "Turn on the append-only file: appendonly yes (CONFIG SET appendonly yes, and in redis.conf).",
              },
        );
      }
      if (policy !== undefined) {
        checks.push(
          policy === "noeviction"
            ? {
                name: "maxmemory-policy",
                status: "ok",
                message: `maxmemory-policy ${policy}: Redis never drops keys`,
              }
            : {
                name: "maxmemory-policy",
                status: "fail",
                message: `maxmemory-policy ${policy}: under memory pressure Redis may evict job keys, and those jobs are lost`,
                fix: "Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or give the queue a Redis of its own.",
              },
        );
      }
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
    client.end(true);
  }
}
