import { type DiagnoseContext, type Diagnosis, maskUrlsIn } from "@conveyor/core";
import { diagnoseRedisServer } from "@conveyor/redis-kit";
import { ioredisDriver } from "./connection.js";
import { parseRedisUrl } from "./url.js";

/**
 * Checks a Redis server for `conveyor doctor`: reachable (PING latency), version, persistence
 * (`appendonly`, `save`), `maxmemory-policy` and memory use, judged for what the URL serves
 * (queue, cache or rate limiter). Opens its own short-lived connection; never throws for a
 * server that is down (that is a failed `reachable` check).
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { diagnoseRedis } from "@conveyor/redis";
 *
 * const url = "redis://localhost:6379/0";
 * const { version, checks } = await diagnoseRedis({ url, parsed: parseUrl(url), kind: "queue", timeoutMs: 2_000 });
 * for (const check of checks) console.log(check.status, check.name, check.message);
 * ```
 */
export async function diagnoseRedis(context: DiagnoseContext): Promise<Diagnosis> {
  const { kind, timeoutMs } = context;
  let target: ReturnType<typeof parseRedisUrl>["target"];
  try {
    ({ target } = parseRedisUrl(context.url, ["namespace", "ttlMs", "prefix", "maxEvents"]));
  } catch (error) {
    return {
      checks: [
        {
          name: "url",
          status: "fail",
          message: maskUrlsIn(error instanceof Error ? error.message : String(error)),
          fix: "Fix the Redis URL.",
        },
      ],
    };
  }
  const client = ioredisDriver.create(
    { ...target, connectTimeoutMs: Math.min(target.connectTimeoutMs, timeoutMs) },
    "doctor",
  );
  // Connection errors are reported as the failed check, not as unhandled 'error' events.
  client.on("error", () => {});
  return diagnoseRedisServer(
    {
      connect: () => client.connect(),
      ping: () => client.ping(),
      info: (section) => client.info(section),
      configGet: (parameter) => ioredisDriver.configGet(client, parameter),
      close: () => client.disconnect(),
    },
    { kind, timeoutMs, masked: target.masked, needs: { minimum: "5.0.0", lacks: "streams and ZPOPMIN" } },
  );
}
