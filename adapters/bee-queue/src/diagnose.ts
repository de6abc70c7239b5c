import { type DiagnoseContext, type Diagnosis, maskUrlsIn } from "@conveyor/core";
import { diagnoseRedisServer } from "@conveyor/redis-kit";
import { createClient, type RedisClient } from "redis";
import { call, clientOptions } from "./connection.js";
import { parseBeeQueueUrl } from "./url.js";

const messageOf = (error: unknown) => maskUrlsIn(error instanceof Error ? error.message : String(error));

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
    call<T>((done) => client.send_command(name, args, done as never));
  return diagnoseRedisServer(
    {
      // The client connects by itself; the first PING waits for it.
      connect: () => Promise.resolve(),
      ping: () => command("PING"),
      info: (section) => command<string>("INFO", section),
      configGet: async (parameter) => (await command<string[]>("CONFIG", "GET", parameter))[1],
      close: () => client.end(true),
    },
    {
      kind: context.kind,
      timeoutMs,
      masked: target.masked,
      needs: { minimum: "6.0.6", lacks: "LPOS" },
      scheme: "bee-queue",
    },
  );
}
