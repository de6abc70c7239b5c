import { ConfigError, maskUrl } from "@conveyor/core";

/** One `host:port` of a Redis deployment: the server, a Sentinel, or a Cluster seed node. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Where and how to connect, read from a Redis URL by {@link parseRedisUrl}. */
export interface RedisTarget {
  /** The URL as given, without the adapter's own options: the key of the shared connection. */
  readonly url: string;
  /** The URL with its password hidden, for messages and logs. */
  readonly masked: string;
  /** A single server, a master found through Sentinel, or a Cluster. */
  readonly mode: "standalone" | "sentinel" | "cluster";
  /** Whether to speak TLS (`rediss://`), to Sentinels too. */
  readonly tls: boolean;
  /** The server (standalone), the Sentinels (sentinel) or the seed nodes (cluster). */
  readonly nodes: readonly RedisEndpoint[];
  /** The first of `nodes`: the server itself in standalone mode. */
  readonly host: string;
  /** The port of {@link RedisTarget.host}. */
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Database index; always 0 on a Cluster. */
  readonly db: number;
  /** Name of the master group (sentinel mode). */
  readonly sentinelName: string | undefined;
  /** Password of the Sentinels themselves, when they have one (sentinel mode). */
  readonly sentinelPassword: string | undefined;
  /** How long the first connection may take before calls fail. */
  readonly connectTimeoutMs: number;
}

/** What {@link parseRedisUrl} needs to know about the adapter reading the URL. */
export interface RedisUrlOptions {
  /**
   * The adapter's scheme prefix: `"bullmq"` reads `bullmq+redis://` and `bullmq+rediss://` (plain
   * `redis://` and `rediss://` are always accepted).
   * @defaultValue none: `redis://` and `rediss://` only
   */
  scheme?: string;
  /** The adapter's name in messages ("the BullMQ URL"). @defaultValue `"Redis"` */
  name?: string;
  /** The `scope` of the `ConfigError`s thrown. @defaultValue `"redis"` */
  scope?: string;
  /** The query options the adapter reads itself; any other option is refused. @defaultValue none */
  adapterParams?: readonly string[];
  /**
   * Why Sentinel and Cluster URLs are refused, when the adapter talks to one server only (e.g. "Point
   * it at the primary, or use @conveyor/redis."); undefined accepts them.
   */
  singleServer?: string;
}

const TOPOLOGY_PARAMS = ["sentinels", "name", "sentinelPassword", "cluster", "nodes"];
const CONNECTION_PARAMS = [...TOPOLOGY_PARAMS, "connectTimeoutMs"];
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const TRUE = new Set(["true", "1", "yes", "on"]);

function endpoint(
  text: string,
  defaultPort: number,
  url: string,
  fail: (message: string) => never,
): RedisEndpoint {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text.trim());
  if (!match) {
    return fail(`"${text}" in "${maskUrl(url)}" is not a host or host:port. Write it like 10.0.0.5:26379.`);
  }
  const host = match[1]!.replace(/^\[|\]$/g, "");
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!(port > 0 && port < 65_536)) fail(`the port of "${text}" in "${maskUrl(url)}" is out of range.`);
  return { host, port };
}

function endpoints(
  list: string,
  defaultPort: number,
  url: string,
  fail: (message: string) => never,
): RedisEndpoint[] {
  return list
    .split(",")
    .filter((item) => item.trim() !== "")
    .map((item) => endpoint(item, defaultPort, url, fail));
}

/**
 * Reads a Redis URL:
 *
 * - `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS (with the adapter's
 *   `scheme` prefix too: `bullmq+redis://…`);
 * - Sentinel: `redis://[:password@]mymaster[/db]?sentinels=h1:26379,h2:26379` (the host names the
 *   master group, or `&name=mymaster`; `&sentinelPassword=…` when the Sentinels need one);
 * - Cluster: `redis://[:password@]seed1:7000?cluster=true&nodes=seed2:7001,seed3:7002`;
 * - `connectTimeoutMs=<ms>` for any of them.
 *
 * `adapterParams` are the query options the caller reads itself; any other option is refused with
 * a `ConfigError`, so a typo fails loudly. Returns the target and the caller's options.
 *
 * @example
 * ```ts
 * import { parseRedisUrl } from "@conveyor/redis-kit";
 * const { target, params } = parseRedisUrl("bullmq+redis://:pw@localhost:6379/2?prefix=app", {
 *   scheme: "bullmq",
 *   name: "BullMQ",
 *   adapterParams: ["prefix"],
 * });
 * // target.host "localhost", target.db 2, params.get("prefix") "app"
 * ```
 */
export function parseRedisUrl(
  url: string,
  options: RedisUrlOptions = {},
): { target: RedisTarget; params: URLSearchParams } {
  const { name = "Redis", scope = "redis", adapterParams = [], singleServer } = options;
  const prefix = options.scheme ? `${options.scheme}+` : "";
  const fail = (message: string): never => {
    throw new ConfigError(message, { scope });
  };
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new ConfigError(
      `"${maskUrl(url)}" is not a valid URL. Write it like ${prefix}redis://localhost:6379/0.`,
      {
        scope,
        cause,
      },
    );
  }
  const given = parsed.protocol.replace(/:$/, "").toLowerCase();
  const scheme = prefix && given.startsWith(prefix) ? given.slice(prefix.length) : given;
  if (scheme !== "redis" && scheme !== "rediss") {
    fail(
      `"${maskUrl(url)}" is not a ${name} URL. Use ${prefix}redis://host:6379/0, or ${prefix}rediss:// for TLS.`,
    );
  }
  const params = new URLSearchParams();
  const own = new URLSearchParams();
  for (const [key, value] of parsed.searchParams) {
    if (singleServer !== undefined && TOPOLOGY_PARAMS.includes(key)) {
      fail(
        `"${maskUrl(url)}" asks for ${key}=, but ${name} talks to a single Redis server (no Sentinel, no Cluster). ${singleServer}`,
      );
    }
    if (CONNECTION_PARAMS.includes(key)) own.set(key, value);
    else if (adapterParams.includes(key)) params.set(key, value);
    else {
      const connection = singleServer === undefined ? CONNECTION_PARAMS : ["connectTimeoutMs"];
      const accepted = [...connection, ...adapterParams].join(", ");
      fail(`unknown option "${key}" in the ${name} URL "${maskUrl(url)}". Accepted: ${accepted}.`);
    }
  }

  const path = parsed.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || !/^\d*$/.test(path)) {
    fail(`the path of "${maskUrl(url)}" must be a database index such as /0, not "/${path}".`);
  }
  const connectTimeoutMs =
    own.get("connectTimeoutMs") === null ? DEFAULT_CONNECT_TIMEOUT_MS : Number(own.get("connectTimeoutMs"));
  if (!(Number.isFinite(connectTimeoutMs) && connectTimeoutMs > 0)) {
    fail(`connectTimeoutMs in "${maskUrl(url)}" must be a positive number of milliseconds.`);
  }
  const hostname = decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, ""));
  const sentinels = own.get("sentinels");
  const cluster = own.get("cluster");
  const isCluster = cluster !== null && TRUE.has(cluster.toLowerCase());
  if (sentinels !== null && isCluster) {
    fail(`"${maskUrl(url)}" asks for both Sentinel and Cluster; a deployment is one or the other.`);
  }

  let mode: RedisTarget["mode"] = "standalone";
  let nodes: RedisEndpoint[];
  let sentinelName: string | undefined;
  if (sentinels !== null) {
    mode = "sentinel";
    nodes = endpoints(sentinels, 26_379, url, fail);
    sentinelName = own.get("name") ?? (hostname || undefined);
    if (!sentinelName) fail(`"${maskUrl(url)}" names no Sentinel master group; add &name=mymaster.`);
  } else {
    if (!hostname) fail(`"${maskUrl(url)}" has no host. Write it like ${prefix}redis://localhost:6379/0.`);
    const port = parsed.port === "" ? 6_379 : Number(parsed.port);
    nodes = [{ host: hostname, port }];
    if (isCluster) {
      mode = "cluster";
      nodes.push(...endpoints(own.get("nodes") ?? "", 6_379, url, fail));
      if (db !== 0)
        fail(`"${maskUrl(url)}" selects database ${db}, but a Redis Cluster has only database 0.`);
    } else if (own.get("nodes") !== null) {
      fail(`"${maskUrl(url)}" lists nodes= without cluster=true.`);
    }
  }
  if (own.get("name") !== null && mode !== "sentinel") {
    fail(`"${maskUrl(url)}" has name= without sentinels=; name is the Sentinel master group.`);
  }

  // The connection is shared by URL; the adapter's own options do not change the connection.
  const keyUrl = new URL(parsed.href);
  for (const key of params.keys()) keyUrl.searchParams.delete(key);
  const connectionUrl = keyUrl.href;
  return {
    target: {
      url: connectionUrl,
      masked: maskUrl(connectionUrl),
      mode,
      tls: scheme === "rediss",
      nodes,
      host: nodes[0]?.host ?? "",
      port: nodes[0]?.port ?? 6_379,
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      db,
      sentinelName,
      sentinelPassword: own.get("sentinelPassword") ?? undefined,
      connectTimeoutMs,
    },
    params,
  };
}

/**
 * The target reported in errors when the caller passed its own client rather than a URL.
 *
 * @example
 * ```ts
 * import { givenClientTarget } from "@conveyor/redis-kit";
 * givenClientTarget().masked; // "(the given client)"
 * ```
 */
export function givenClientTarget(): RedisTarget {
  return {
    url: "(the given client)",
    masked: "(the given client)",
    mode: "standalone",
    tls: false,
    nodes: [],
    host: "",
    port: 6_379,
    username: undefined,
    password: undefined,
    db: 0,
    sentinelName: undefined,
    sentinelPassword: undefined,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  };
}

/**
 * A positive number from the adapter's URL options, or undefined when absent; a `ConfigError`
 * naming the option otherwise.
 *
 * @example
 * ```ts
 * import { positiveParam } from "@conveyor/redis-kit";
 * positiveParam(new URLSearchParams("maxEvents=500"), "maxEvents", "bullmq+redis://h", "bullmq"); // 500
 * ```
 */
export function positiveParam(
  params: URLSearchParams,
  key: string,
  url: string,
  scope = "redis",
): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`the option ${key}=${raw} in "${maskUrl(url)}" must be a positive number.`, {
      scope,
    });
  }
  return value;
}
