import { type Logger, maskUrlsIn } from "@conveyor/core";
import { backoffMs, toBackendError as kitBackendError, warnAboutPersistence } from "@conveyor/redis-kit";
import { Redis, type RedisOptions } from "ioredis";
import type { BullmqTarget } from "./url.js";

export { backoffMs } from "@conveyor/redis-kit";

/**
 * The roles of this adapter's connections. `command` serves the BullMQ `Queue`s and the adapter's
 * own reads and scripts: a call made while Redis is away fails after a few reconnect attempts, so
 * a producer learns it was not acknowledged. `worker` is shared by the BullMQ `Worker`s, which
 * BullMQ requires to retry forever (`maxRetriesPerRequest: null`), and each `Worker` and
 * `QueueEvents` duplicates it for its own blocking reads.
 */
export type Role = "command" | "worker" | "events" | "cancel";

/** ioredis options for `role` on `target`, with reconnect backoff and a name shown in CLIENT LIST. */
export function clientOptions(target: BullmqTarget, role: Role, connectTimeoutMs: number): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    connectionName: `conveyor:bullmq:${role}`,
    connectTimeout: connectTimeoutMs,
    retryStrategy: backoffMs,
    // BullMQ refuses a blocking client that gives up on a command; the command role bounds its calls.
    maxRetriesPerRequest: role === "command" ? 3 : null,
    // No auto-pipelining: ioredis sends one auto-pipeline per connection at a time and queues the
    // next until it is answered, so every job's commands waited behind the previous batch (and
    // the blocking duplicates BullMQ makes inherit it): p50 latency 16 ms against BullMQ's 2 ms.
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
}

/** Turns a client error into a `BackendUnavailableError` naming the masked URL; keeps Conveyor errors. */
export function toBackendError(masked: string, cause: unknown): Error {
  return kitBackendError(masked, cause, "bullmq");
}

/**
 * Warns once per server and process when Redis would lose jobs on a restart (no AOF, no RDB save
 * points) or may evict keys (`maxmemory-policy` other than `noeviction`, which BullMQ requires).
 */
export function checkPersistence(client: Redis, server: string, masked: string, log: Logger): Promise<void> {
  return warnAboutPersistence({
    server,
    masked,
    scope: "bullmq",
    log,
    configGet: async (parameter) => {
      const reply = (await client.config("GET", parameter)) as unknown;
      return Array.isArray(reply) && typeof reply[1] === "string" ? reply[1] : undefined;
    },
  });
}

const afterThisTurn = globalThis.setImmediate;

/**
 * Sends everything `client` writes during one turn of the event loop in one socket write: the
 * socket is corked at the turn's first command and uncorked once the turn's callbacks and
 * promise reactions ran (a `setImmediate`). A job's commands (BullMQ's move, the adapter's writes
 * next to it, the next claims) cost one system call instead of one each, and no command waits
 * for another's reply (ioredis's auto-pipelining does: one batch in flight per connection).
 * Blocking duplicates are made with `duplicate()` and are not coalesced.
 */
export function coalesceWrites(client: Redis): void {
  const send = client.sendCommand.bind(client);
  let corked: { uncork(): void } | undefined;
  client.sendCommand = ((...args: Parameters<Redis["sendCommand"]>) => {
    if (corked === undefined && client.status === "ready") {
      const socket = (client as unknown as { stream?: { cork(): void; uncork(): void } }).stream;
      if (socket) {
        socket.cork();
        corked = socket;
        afterThisTurn(() => {
          corked = undefined;
          socket.uncork();
        });
      }
    }
    return send(...args);
  }) as Redis["sendCommand"];
}

/** Logs lost and regained connections once per outage instead of once per reconnect attempt. */
export function watchConnection(client: Redis, role: Role, masked: string, log: Logger): void {
  let down = false;
  let connectedOnce = false;
  client.on("ready", () => {
    if (down) log.info(`[conveyor:bullmq] connected to Redis at ${masked} again`, { url: masked, role });
    down = false;
    connectedOnce = true;
  });
  client.on("error", (error: unknown) => {
    if (down) return;
    down = true;
    const what = connectedOnce ? "lost the connection to" : "cannot connect to";
    log.warn(`[conveyor:bullmq] ${what} Redis at ${masked}; reconnecting with backoff`, {
      url: masked,
      role,
      error: maskUrlsIn(error instanceof Error ? error.message : String(error)),
    });
  });
}

interface Pooled {
  readonly client: Redis;
  users: number;
}

// One connection per (role, server, credentials) in this process, shared by every adapter that
// uses it: BullMQ's Queues and Workers share a non-blocking connection safely.
const pool = new Map<string, Pooled>();

/**
 * A use of the process-wide connection of `role` to `target`, opened on first use; the last
 * `release()` closes it.
 */
export function acquire(
  target: BullmqTarget,
  role: "command" | "worker",
  connectTimeoutMs: number,
  log: Logger,
): { client: Redis; release(): Promise<void> } {
  const key = [
    role,
    target.host,
    target.port,
    target.db,
    target.tls,
    target.username,
    target.password,
    connectTimeoutMs,
  ].join("\u0000");
  let pooled = pool.get(key);
  if (!pooled) {
    const client = new Redis(clientOptions(target, role, connectTimeoutMs));
    coalesceWrites(client);
    watchConnection(client, role, target.masked, log);
    pooled = { client, users: 0 };
    pool.set(key, pooled);
  }
  pooled.users++;
  const shared = pooled;
  let released = false;
  return {
    client: shared.client,
    async release() {
      if (released) return;
      released = true;
      shared.users--;
      if (shared.users > 0) return;
      if (pool.get(key) === shared) pool.delete(key);
      await closeClient(shared.client);
    },
  };
}

/** Quits gracefully when connected, disconnects at once otherwise. */
export async function closeClient(client: Redis): Promise<void> {
  try {
    if (client.status === "ready") await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
