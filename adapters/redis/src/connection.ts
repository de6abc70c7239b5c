import type { EventEmitter } from "node:events";
import {
  type BackendUnavailableError,
  ClosedError,
  consoleLogger,
  type Logger,
  maskUrlsIn,
} from "@conveyor/core";
import { backoffMs, toBackendError as kitBackendError, warnAboutPersistence } from "@conveyor/redis-kit";
import { createClient, createCluster, createSentinel, type RedisClientConnectionType } from "@keyv/redis";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisTarget } from "./url.js";

export { backoffMs } from "@conveyor/redis-kit";

/** What every factory of this package accepts to reach Redis. */
export interface RedisConnectionOptions {
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS, Sentinel
   * (`redis://:pw@mymaster/0?sentinels=h1:26379,h2:26379`) or Cluster
   * (`redis://seed:7000?cluster=true&nodes=seed2:7001`). Ignored when a `client` is given.
   * @defaultValue `"redis://127.0.0.1:6379"`
   */
  url?: string;
  /**
   * Where connection warnings go (lost and regained connections, the persistence check).
   * @defaultValue `consoleLogger()` from `@conveyor/core`
   */
  log?: Logger;
  /**
   * Warn once per server and process when Redis keeps no data across a restart (no AOF and no RDB
   * snapshots) or may evict keys (`maxmemory-policy` other than `noeviction`).
   * @defaultValue true
   */
  checkPersistence?: boolean;
}

/** A client library this package drives, as far as sharing a connection needs to know it. */
export interface Driver<C> {
  /** Shown in logs. */
  readonly library: string;
  create(target: RedisTarget, role: string): C;
  /** Starts connecting; resolves once connected (may never settle while the server is down). */
  connect(client: C): Promise<unknown>;
  isReady(client: C): boolean;
  events(client: C): EventEmitter;
  configGet(client: C, parameter: string): Promise<string | undefined>;
  /** Closes gracefully when connected, at once otherwise. */
  close(client: C): Promise<void>;
}

const connectionName = (role: string) => `conveyor:${role}`;

/**
 * Roles whose commands ioredis gathers into one write per event-loop turn (auto-pipelining).
 * The limiter is called from many concurrent jobs, and bare ioredis with 50 in flight spent
 * about half the Node CPU per call with it (scripts/measure.mjs). The queue's connections do
 * without: they send about one command per batch of jobs, and each auto-pipelined write costs a
 * setImmediate of delay and a new ioredis Pipeline (a copy of every defined command, ~2 KB) that
 * V8 comes to allocate in old space, so scavenges slow down until a full GC.
 */
const AUTO_PIPELINED_ROLES: ReadonlySet<string> = new Set(["rate-limiter"]);

/** ioredis: the rate limiter's and the queue's client. */
export const ioredisDriver: Driver<Redis | Cluster> = {
  library: "ioredis",
  create(target, role) {
    const autoPipelining = AUTO_PIPELINED_ROLES.has(role);
    const common: RedisOptions = {
      lazyConnect: true,
      connectionName: connectionName(role),
      connectTimeout: target.connectTimeoutMs,
      enableAutoPipelining: autoPipelining,
      // Calls are refused by the connection gate while Redis is down; this only bounds the few
      // that were in flight when it went away.
      maxRetriesPerRequest: 1,
      retryStrategy: backoffMs,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    };
    if (target.mode === "cluster") {
      return new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          lazyConnect: true,
          enableAutoPipelining: autoPipelining,
          clusterRetryStrategy: backoffMs,
          redisOptions: { ...common, lazyConnect: false, enableAutoPipelining: false },
        },
      );
    }
    if (target.mode === "sentinel") {
      return new Redis({
        ...common,
        db: target.db,
        sentinels: target.nodes.map((n) => ({ host: n.host, port: n.port })),
        name: target.sentinelName!,
        sentinelRetryStrategy: backoffMs,
        enableTLSForSentinelMode: target.tls,
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
      });
    }
    const node = target.nodes[0]!;
    return new Redis({ ...common, host: node.host, port: node.port, db: target.db });
  },
  connect: (client) => client.connect(),
  isReady: (client) => client.status === "ready",
  events: (client) => client,
  async configGet(client, parameter) {
    const reply = (await client.config("GET", parameter)) as unknown;
    // [name, value] from a server, or one pair per node from a Cluster.
    return Array.isArray(reply) && typeof reply[1] === "string" ? reply[1] : undefined;
  },
  async close(client) {
    if (client.status === "ready") {
      try {
        await client.quit();
        return;
      } catch {
        // The connection dropped while quitting: disconnect below.
      }
    }
    client.disconnect();
  },
};

/** node-redis, the client @keyv/redis is built on: the cache's client. */
export const nodeRedisDriver: Driver<RedisClientConnectionType> = {
  library: "node-redis",
  create(target, role) {
    const socket = {
      connectTimeout: target.connectTimeoutMs,
      reconnectStrategy: (retries: number) => backoffMs(retries + 1),
      ...(target.tls ? { tls: true as const } : {}),
    };
    const auth = {
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
    };
    // While Redis is down a call fails at once instead of waiting in a queue: the cache is a
    // tier that callers skip when it is unreachable.
    const client = { name: connectionName(role), disableOfflineQueue: true, ...auth };
    if (target.mode === "cluster") {
      return createCluster({
        rootNodes: target.nodes.map((n) => ({ socket: { host: n.host, port: n.port, ...socket } })),
        defaults: { ...client, socket },
      }) as unknown as RedisClientConnectionType;
    }
    if (target.mode === "sentinel") {
      return createSentinel({
        name: target.sentinelName!,
        sentinelRootNodes: target.nodes.map((n) => ({ host: n.host, port: n.port })),
        nodeClientOptions: { ...client, database: target.db, socket },
        sentinelClientOptions: {
          socket,
          ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}),
        },
      }) as unknown as RedisClientConnectionType;
    }
    const node = target.nodes[0]!;
    return createClient({
      ...client,
      database: target.db,
      socket: { host: node.host, port: node.port, ...socket },
    }) as unknown as RedisClientConnectionType;
  },
  connect: (client) => client.connect(),
  isReady(client) {
    const ready = (client as { isReady?: boolean }).isReady;
    return typeof ready === "boolean" ? ready : client.isOpen;
  },
  events: (client) => client as unknown as EventEmitter,
  async configGet(client, parameter) {
    const reply = (await (client as { configGet(p: string): Promise<Record<string, string>> }).configGet(
      parameter,
    )) as Record<string, string> | undefined;
    return reply?.[parameter];
  },
  async close(client) {
    if (!client.isOpen) return;
    if (nodeRedisDriver.isReady(client)) {
      try {
        await client.close();
        return;
      } catch {
        // Dropped while closing: destroy below.
      }
    }
    client.destroy();
  },
};

/** A connection of one role to one URL, shared by every cache or limiter of this process that uses it. */
export interface Lease<C> {
  readonly client: C;
  readonly target: RedisTarget;
  /**
   * `undefined` when the connection is ready (the hot path allocates nothing); otherwise a
   * promise that settles once the first connection is made, or rejects with a
   * `BackendUnavailableError` at once when Redis went away after that.
   */
  ready(): Promise<void> | undefined;
  /** A `BackendUnavailableError` for this target, with the URL masked. */
  unavailable(cause: unknown): BackendUnavailableError;
  /** Gives up this use; the last one closes the connection. */
  release(): Promise<void>;
}

/** Turns a client error into a `BackendUnavailableError` naming the masked URL; keeps Conveyor errors. */
export function toBackendError(target: RedisTarget, cause: unknown): Error {
  return kitBackendError(target.masked, cause, "redis");
}

/** Warns once per server when Redis would lose data on a restart or may evict keys. */
function checkPersistence<C>(driver: Driver<C>, client: C, target: RedisTarget, log: Logger): Promise<void> {
  return warnAboutPersistence({
    // Once per server, whatever the database, role or options in its URLs.
    server: `${target.mode} ${target.sentinelName ?? ""} ${target.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`,
    masked: target.masked,
    scope: "redis",
    log,
    configGet: (parameter) => driver.configGet(client, parameter),
  });
}

class Pooled<C> {
  users = 0;
  private connectedOnce = false;
  private firstAttempt: Promise<void> | undefined;
  /** Ends the first attempt early (on close), so its timer does not outlive the connection. */
  private abandonFirstAttempt: ((error: unknown) => void) | undefined;
  private outageLogged = false;
  private closing = false;
  /** The last connection error, for the message of calls refused while Redis is away. */
  private lastError: unknown;
  readonly client: C;

  constructor(
    readonly key: string,
    readonly driver: Driver<C>,
    readonly target: RedisTarget,
    readonly role: string,
    private readonly log: Logger,
    private readonly check: boolean,
  ) {
    this.client = driver.create(target, role);
    const events = driver.events(this.client);
    events.on("ready", () => this.onReady());
    events.on("error", (error: unknown) => this.onError(error));
    this.firstAttempt = this.connect();
    // Callers that wait on the first attempt see its error; nobody else must see it unhandled.
    this.firstAttempt.catch(() => {});
  }

  private connect(): Promise<void> {
    const { target } = this;
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const events = this.driver.events(this.client);
      const settle = (error?: unknown) => {
        if (this.abandonFirstAttempt !== settle) return;
        this.abandonFirstAttempt = undefined;
        this.firstAttempt = undefined;
        clearTimeout(timer);
        events.off("error", onError);
        if (error !== undefined) {
          reject(toBackendError(target, error));
          return;
        }
        this.onReady();
        resolve();
      };
      this.abandonFirstAttempt = settle;
      const onError = (error: unknown) => settle(error);
      timer = setTimeout(
        () => settle(new Error(`no connection within ${target.connectTimeoutMs} ms`)),
        target.connectTimeoutMs,
      );
      events.on("error", onError);
      // Connected means the driver's connect() resolved: a Cluster has its slots by then.
      this.driver.connect(this.client).then(
        () => settle(),
        (error: unknown) => settle(error),
      );
    });
  }

  private onReady(): void {
    this.lastError = undefined;
    if (this.outageLogged) {
      this.log.info(`[conveyor:redis] connected to Redis at ${this.target.masked} again`, {
        url: this.target.masked,
        role: this.role,
      });
    }
    this.outageLogged = false;
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      if (this.check) {
        checkPersistence(this.driver, this.client, this.target, this.log).catch(() => {});
      }
    }
  }

  private onError(error: unknown): void {
    if (this.closing) return;
    this.lastError = error;
    if (this.outageLogged) return;
    this.outageLogged = true;
    const what = this.connectedOnce ? "lost the connection to" : "cannot connect to";
    this.log.warn(`[conveyor:redis] ${what} Redis at ${this.target.masked}; reconnecting with backoff`, {
      url: this.target.masked,
      role: this.role,
      error: maskUrlsIn(error instanceof Error ? error.message : String(error)),
    });
  }

  ready(): Promise<void> | undefined {
    // The first attempt comes first: a node-redis Cluster counts as open before it has its slots.
    if (this.firstAttempt) return this.firstAttempt;
    if (this.driver.isReady(this.client)) return undefined;
    if (this.closing) return Promise.reject(new ClosedError("this Redis connection", { scope: "redis" }));
    const last = this.lastError instanceof Error ? ` (last error: ${this.lastError.message})` : "";
    return Promise.reject(toBackendError(this.target, new Error(`not connected${last}; reconnecting`)));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.abandonFirstAttempt?.(new ClosedError("this Redis connection", { scope: "redis" }));
    await this.driver.close(this.client);
    const events = this.driver.events(this.client);
    events.removeAllListeners();
    // A late socket error after closing must not crash the process as an unhandled 'error' event.
    events.on("error", () => {});
  }
}

// One connection per (library, role, URL) in this process. Each limiter and cache holds a lease.
const pool = new Map<string, Pooled<unknown>>();

/**
 * Takes a use of the shared connection of `role` to `target` through `driver`, opening it on first
 * use. Release each lease once; the last release closes the connection.
 */
export function acquire<C>(
  driver: Driver<C>,
  role: string,
  target: RedisTarget,
  options: { log?: Logger; checkPersistence?: boolean } = {},
): Lease<C> {
  const key = `${driver.library}\u0000${role}\u0000${target.url}`;
  let pooled = pool.get(key) as Pooled<C> | undefined;
  if (pooled === undefined) {
    pooled = new Pooled(
      key,
      driver,
      target,
      role,
      options.log ?? consoleLogger(),
      options.checkPersistence ?? true,
    );
    pool.set(key, pooled as Pooled<unknown>);
  }
  pooled.users++;
  const shared = pooled;
  let released = false;
  return {
    client: shared.client,
    target,
    ready: () => shared.ready(),
    unavailable: (cause) => toBackendError(target, cause) as BackendUnavailableError,
    async release() {
      if (released) return;
      released = true;
      shared.users--;
      if (shared.users > 0) return;
      if (pool.get(key) === shared) pool.delete(key);
      await shared.close();
    },
  };
}

/** How many shared connections are open in this process (for tests and diagnostics). */
export function openConnections(): number {
  return pool.size;
}
