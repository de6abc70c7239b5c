import { ConfigError, maskUrl } from "@conveyor/core";

/** One `host:port` of a Redis deployment: the server, a Sentinel, or a Cluster seed node. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Where and how to connect, read from a `redis://` or `rediss://` URL by {@link parseRedisUrl}. */
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

const CONNECTION_PARAMS = ["sentinels", "name", "sentinelPassword", "cluster", "nodes", "connectTimeoutMs"];
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const TRUE = new Set(["true", "1", "yes", "on"]);

const fail = (message: string): never => {
  throw new ConfigError(message, { scope: "redis" });
};

function endpoint(text: string, defaultPort: number, url: string): RedisEndpoint {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text.trim());
  if (!match) {
    return fail(`"${text}" in "${maskUrl(url)}" is not a host or host:port. Write it like 10.0.0.5:26379.`);
  }
  const host = match[1]!.replace(/^\[|\]$/g, "");
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!(port > 0 && port < 65_536)) fail(`the port of "${text}" in "${maskUrl(url)}" is out of range.`);
  return { host, port };
}

function endpoints(list: string, defaultPort: number, url: string): RedisEndpoint[] {
  return list
    .split(",")
    .filter((item) => item.trim() !== "")
    .map((item) => endpoint(item, defaultPort, url));
}

/**
 * Reads a Redis URL:
 *
 * - `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS;
 * - Sentinel: `redis://[:password@]mymaster[/db]?sentinels=h1:26379,h2:26379` (the host names the
 *   master group, or `&name=mymaster`; `&sentinelPassword=…` when the Sentinels need one);
 * - Cluster: `redis://[:password@]seed1:7000?cluster=true&nodes=seed2:7001,seed3:7002`;
 * - `connectTimeoutMs=<ms>` for any of them.
 *
 * `adapterParams` are the query options the caller reads itself; any other option is refused with
 * a `ConfigError`, so a typo fails loudly. Returns the target and the caller's options.
 */
export function parseRedisUrl(
  url: string,
  adapterParams: readonly string[] = [],
): { target: RedisTarget; params: URLSearchParams } {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new ConfigError(`"${maskUrl(url)}" is not a valid URL. Write it like redis://localhost:6379/0.`, {
      scope: "redis",
      cause,
    });
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  if (scheme !== "redis" && scheme !== "rediss") {
    fail(`"${maskUrl(url)}" is not a Redis URL. Use redis://host:6379/0, or rediss:// for TLS.`);
  }
  const params = new URLSearchParams();
  const own = new URLSearchParams();
  for (const [key, value] of parsed.searchParams) {
    if (CONNECTION_PARAMS.includes(key)) own.set(key, value);
    else if (adapterParams.includes(key)) params.set(key, value);
    else {
      const accepted = [...CONNECTION_PARAMS, ...adapterParams].join(", ");
      fail(`unknown option "${key}" in the Redis URL "${maskUrl(url)}". Accepted: ${accepted}.`);
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
    nodes = endpoints(sentinels, 26_379, url);
    sentinelName = own.get("name") ?? (hostname || undefined);
    if (!sentinelName) fail(`"${maskUrl(url)}" names no Sentinel master group; add &name=mymaster.`);
  } else {
    if (!hostname) fail(`"${maskUrl(url)}" has no host. Write it like redis://localhost:6379/0.`);
    const port = parsed.port === "" ? 6_379 : Number(parsed.port);
    nodes = [{ host: hostname, port }];
    if (isCluster) {
      mode = "cluster";
      nodes.push(...endpoints(own.get("nodes") ?? "", 6_379, url));
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

/** The target reported in errors when the caller passed its own client rather than a URL. */
export function givenClientTarget(): RedisTarget {
  return {
    url: "(the given client)",
    masked: "(the given client)",
    mode: "standalone",
    tls: false,
    nodes: [],
    username: undefined,
    password: undefined,
    db: 0,
    sentinelName: undefined,
    sentinelPassword: undefined,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  };
}
