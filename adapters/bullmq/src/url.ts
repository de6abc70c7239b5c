import { ConfigError, maskUrl } from "@conveyor/core";

/** Where and how to reach Redis, read from a `bullmq+redis://` URL by {@link parseBullmqUrl}. */
export interface BullmqTarget {
  /** The URL as given, password masked, for messages and logs. */
  readonly masked: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Database index. */
  readonly db: number;
}

/** The query options a `bullmq+redis://` URL accepts (each maps to a {@link BullmqQueueOptions} field). */
export const URL_OPTIONS = [
  "prefix",
  "maxEvents",
  "stalledIntervalMs",
  "maxStalledCount",
  "connectTimeoutMs",
] as const;

const fail = (message: string): never => {
  throw new ConfigError(message, { scope: "bullmq" });
};

/**
 * Reads `bullmq+redis://[[user]:password@]host[:port][/db]` (`bullmq+rediss://` for TLS; plain
 * `redis://` and `rediss://` are accepted too). Options outside {@link URL_OPTIONS} are refused
 * with a `ConfigError`, so a typo fails loudly. Sentinel and Cluster URLs are not read here: pass
 * your own ioredis client as `connection` for those.
 */
export function parseBullmqUrl(url: string): { target: BullmqTarget; params: URLSearchParams } {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new ConfigError(
      `"${maskUrl(url)}" is not a valid URL. Write it like bullmq+redis://localhost:6379/0.`,
      { scope: "bullmq", cause },
    );
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  const plain = scheme.replace(/^bullmq\+/, "");
  if (plain !== "redis" && plain !== "rediss") {
    fail(
      `"${maskUrl(url)}" is not a BullMQ URL. Use bullmq+redis://host:6379/0, or bullmq+rediss:// for TLS.`,
    );
  }
  const params = new URLSearchParams();
  for (const [key, value] of parsed.searchParams) {
    if (!(URL_OPTIONS as readonly string[]).includes(key)) {
      fail(
        `unknown option "${key}" in the BullMQ URL "${maskUrl(url)}". Accepted: ${URL_OPTIONS.join(", ")}.`,
      );
    }
    params.set(key, value);
  }
  const path = parsed.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db)) {
    fail(`the path of "${maskUrl(url)}" must be a database index such as /0, not "/${path}".`);
  }
  const host = decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, ""));
  if (!host) fail(`"${maskUrl(url)}" has no host. Write it like bullmq+redis://localhost:6379/0.`);
  const port = parsed.port === "" ? 6_379 : Number(parsed.port);
  return {
    target: {
      masked: maskUrl(url),
      host,
      port,
      tls: plain === "rediss",
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      db,
    },
    params,
  };
}

/** A positive number from the URL options, or undefined when absent; a `ConfigError` otherwise. */
export function positiveParam(params: URLSearchParams, key: string, url: string): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    fail(`the option ${key}=${raw} in "${maskUrl(url)}" must be a positive number.`);
  }
  return value;
}
