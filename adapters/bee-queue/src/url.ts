import { ConfigError, maskUrl } from "@conveyor/core";

/** Where Redis is, read from a `bee-queue+redis://` URL (or a plain `redis://` one). */
export interface BeeRedisTarget {
  /** The URL with its password hidden, for messages and logs. */
  readonly masked: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Whether to speak TLS (`…+rediss://` or `rediss://`). */
  readonly tls: boolean;
  /** How long one connection attempt may take. */
  readonly connectTimeoutMs: number;
}

/** Query options of the URL that belong to the connection rather than to the queue. */
const CONNECTION_PARAMS = ["connectTimeoutMs"];
/** Options of other Redis adapters that Bee-Queue cannot honour. */
const UNSUPPORTED = ["sentinels", "cluster", "nodes", "name", "sentinelPassword"];
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

const fail = (message: string): never => {
  throw new ConfigError(message, { scope: "bee-queue" });
};

/**
 * Reads `bee-queue+redis://[[user]:password@]host[:port][/db][?options]` (`bee-queue+rediss://`
 * for TLS; plain `redis://` and `rediss://` are accepted too). `adapterParams` are the query
 * options the caller reads itself; any other option is refused with a `ConfigError`, so a typo
 * fails loudly. Sentinel and Cluster are refused: Bee-Queue's scripts and its `redis` v3 client
 * speak to one server.
 */
export function parseBeeQueueUrl(
  url: string,
  adapterParams: readonly string[] = [],
): { target: BeeRedisTarget; params: URLSearchParams } {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new ConfigError(
      `"${maskUrl(url)}" is not a valid URL. Write it like bee-queue+redis://localhost:6379/0.`,
      { scope: "bee-queue", cause },
    );
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  const transport = scheme.replace(/^bee-queue\+/, "");
  if (transport !== "redis" && transport !== "rediss") {
    fail(
      `"${maskUrl(url)}" is not a Bee-Queue URL. Use bee-queue+redis://host:6379/0, or bee-queue+rediss:// for TLS.`,
    );
  }
  const params = new URLSearchParams();
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  for (const [key, value] of parsed.searchParams) {
    if (UNSUPPORTED.includes(key)) {
      fail(
        `"${maskUrl(url)}" asks for ${key}=, but Bee-Queue talks to a single Redis server (no Sentinel, no Cluster). Point it at the primary, or use @conveyor/redis or @conveyor/bullmq.`,
      );
    } else if (key === "connectTimeoutMs") {
      connectTimeoutMs = Number(value);
      if (!(Number.isFinite(connectTimeoutMs) && connectTimeoutMs > 0)) {
        fail(`connectTimeoutMs in "${maskUrl(url)}" must be a positive number of milliseconds.`);
      }
    } else if (adapterParams.includes(key)) {
      params.set(key, value);
    } else {
      const accepted = [...CONNECTION_PARAMS, ...adapterParams].join(", ");
      fail(`unknown option "${key}" in the Bee-Queue URL "${maskUrl(url)}". Accepted: ${accepted}.`);
    }
  }
  const path = parsed.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db)) {
    fail(`the path of "${maskUrl(url)}" must be a database index such as /0, not "/${path}".`);
  }
  const host = decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, ""));
  if (!host) fail(`"${maskUrl(url)}" has no host. Write it like bee-queue+redis://localhost:6379/0.`);
  const port = parsed.port === "" ? 6_379 : Number(parsed.port);
  return {
    target: {
      masked: maskUrl(url),
      host,
      port,
      db,
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      tls: transport === "rediss",
      connectTimeoutMs,
    },
    params,
  };
}
