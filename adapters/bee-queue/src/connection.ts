import { type Logger, maskUrlsIn } from "@conveyor/core";
import { backoffMs, toBackendError as kitBackendError, warnAboutPersistence } from "@conveyor/redis-kit";
import { type ClientOpts, createClient, type RedisClient } from "redis";
import type { BeeRedisTarget } from "./url.js";

export { backoffMs } from "@conveyor/redis-kit";

/**
 * The `redis` v3 client options Bee-Queue's connections are made with: reconnect forever with
 * backoff (the client's default gives up after an hour), and commands issued while Redis is away
 * wait in the client's offline queue until it is back.
 */
export function clientOptions(target: BeeRedisTarget): ClientOpts {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    connect_timeout: target.connectTimeoutMs,
    retry_strategy: (options) => backoffMs(options.attempt),
    ...(target.password ? { password: target.password } : {}),
    // `user` (Redis 6 ACL) is known to redis 3.1 but missing from its type definitions.
    ...(target.username ? ({ user: target.username } as ClientOpts) : {}),
    ...(target.tls ? { tls: { servername: target.host } } : {}),
  };
}

/** Turns a client error into a `BackendUnavailableError` naming the masked URL; keeps Conveyor errors. */
export function toBackendError(target: BeeRedisTarget, cause: unknown): Error {
  return kitBackendError(target.masked, cause, "bee-queue");
}

/** Calls a `redis` v3 client method in callback style and returns a promise. */
export function call<T>(run: (done: (error: Error | null, reply: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    run((error, reply) => (error ? reject(error) : resolve(reply)));
  });
}

/** Warns once per server and process when Redis would lose jobs on a restart or may evict keys. */
function checkPersistence(client: RedisClient, target: BeeRedisTarget, log: Logger): Promise<void> {
  return warnAboutPersistence({
    server: `${target.host}:${target.port}`,
    masked: target.masked,
    scope: "bee-queue",
    log,
    configGet: (parameter) =>
      call<string[]>((done) => client.config("GET", parameter, done as never)).then((reply) => reply?.[1]),
  });
}

/**
 * Opens the adapter's command connection (shared with every Bee-Queue queue it creates) and logs
 * lost and regained connections once per outage. `onReconnect` runs after each reconnection.
 */
export function openClient(
  target: BeeRedisTarget,
  options: { log: Logger; checkPersistence: boolean; onReconnect: () => void },
): RedisClient {
  const client = createClient(clientOptions(target));
  autoPipeline(client);
  let connectedOnce = false;
  let outage = false;
  client.on("ready", () => {
    if (outage) {
      options.log.info(`[conveyor:bee-queue] connected to Redis at ${target.masked} again`, {
        url: target.masked,
      });
    }
    outage = false;
    if (connectedOnce) options.onReconnect();
    else if (options.checkPersistence) checkPersistence(client, target, options.log).catch(() => {});
    connectedOnce = true;
  });
  const lost = (error: unknown) => {
    if (outage) return;
    outage = true;
    const what = connectedOnce ? "lost the connection to" : "cannot connect to";
    options.log.warn(`[conveyor:bee-queue] ${what} Redis at ${target.masked}; reconnecting with backoff`, {
      url: target.masked,
      error: maskUrlsIn(error instanceof Error ? error.message : String(error)),
    });
  };
  client.on("error", lost);
  client.on("reconnecting", (info: { error?: unknown }) => lost(info?.error ?? "connection closed"));
  return client;
}

/** The parts of a `redis` v3 client that {@link autoPipeline} drives (not in its type definitions). */
interface ClientInternals {
  /** false unless a MULTI or batch is being queued (then `write` goes to the client's own queue). */
  pipeline: boolean;
  stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
  should_buffer: boolean;
  write(data: string | Buffer): void;
  write_strings(): void;
  write_buffers(): void;
}

/**
 * Makes a `redis` v3 client send the commands issued in one tick in one socket write, as ioredis's
 * `enableAutoPipelining` does. The client writes every command to its socket at once, one system
 * call each, and on a busy worker those writes were a fifth of its CPU time (the claim and
 * outcome scripts and Bee-Queue's own commands of every job). Order is kept: a MULTI the client
 * writes itself (it corks, then flushes its own queue) first sends what is pending here. The
 * flush runs on `process.nextTick`, before any I/O event, so no reconnect can come in between.
 */
export function autoPipeline(redis: RedisClient): void {
  const client = redis as unknown as ClientInternals;
  const direct = client.write;
  const writeStrings = client.write_strings;
  const writeBuffers = client.write_buffers;
  let pending: (string | Buffer)[] = [];
  let strings = true;
  const flush = () => {
    if (pending.length === 0) return;
    const chunks = pending;
    pending = [];
    if (strings) {
      client.should_buffer = !client.stream.write(chunks.length === 1 ? chunks[0]! : chunks.join(""));
      return;
    }
    strings = true;
    client.stream.cork();
    for (const chunk of chunks) client.should_buffer = !client.stream.write(chunk);
    client.stream.uncork();
  };
  client.write = function write(data) {
    if (client.pipeline !== false) {
      direct.call(client, data);
      return;
    }
    if (pending.length === 0) process.nextTick(flush);
    if (typeof data !== "string") strings = false;
    pending.push(data);
  };
  client.write_strings = function write_strings() {
    flush();
    writeStrings.call(client);
  };
  client.write_buffers = function write_buffers() {
    flush();
    writeBuffers.call(client);
  };
}

/** Closes a client gracefully when connected, at once otherwise; never throws. */
export async function closeClient(client: RedisClient): Promise<void> {
  if (client.connected) {
    try {
      await call((done) => client.quit(done));
      return;
    } catch {
      // Dropped while quitting: end below.
    }
  }
  client.end(true);
}
