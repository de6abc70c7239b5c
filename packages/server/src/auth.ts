import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ConfigError, type RateLimit } from "@conveyor/core";
import { HttpError } from "./errors.js";

/** One API token with an optional name (shown in logs and metrics, never the token) and limit. */
export interface ApiToken {
  /** The secret the client sends as `Authorization: Bearer <token>`; at least 16 characters. */
  token: string;
  /** A name for logs and the `token` label of metrics. @defaultValue `"token-<n>"` */
  name?: string;
  /** This token's own rate limit; `false` exempts it. @defaultValue {@link AuthOptions.rateLimit} */
  rateLimit?: RateLimit | false;
}

/** Who may call the API, and how often. */
export interface AuthOptions {
  /**
   * Accepted bearer tokens. With none (here and in the env), the API is open, which the server
   * only allows on a loopback address.
   * @defaultValue the comma-separated tokens of `CONVEYOR_API_TOKENS`
   */
  tokens?: readonly (string | ApiToken)[];
  /**
   * Points per window for each token (each request costs one point), counted by the platform's
   * RateLimiter, so the limit holds across every server process sharing it. Without tokens the
   * limit applies to all callers together.
   * @defaultValue no limit
   */
  rateLimit?: RateLimit;
  /** Read `CONVEYOR_API_TOKENS` as well as {@link AuthOptions.tokens}. @defaultValue true */
  env?: boolean;
}

/** The caller of one request once authenticated. */
export interface Principal {
  /** The token's name, or `"anonymous"` when the API is open. */
  name: string;
  /** Rate-limiter key: a hash of the token, never the token itself. */
  key: string;
  /** The limit that applies, if any. */
  rateLimit: RateLimit | undefined;
}

interface StoredToken {
  digest: Buffer;
  principal: Principal;
}

const MIN_TOKEN_LENGTH = 16;
const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** The env var holding API tokens, comma-separated. */
export const TOKENS_ENV_VAR = "CONVEYOR_API_TOKENS";

/** Checks bearer tokens in constant time and knows each token's rate limit. */
export class Authenticator {
  private readonly tokens: StoredToken[];
  private readonly anonymous: Principal;

  constructor(options: AuthOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    const given = [...(options.tokens ?? [])];
    if (options.env !== false) {
      for (const token of (env[TOKENS_ENV_VAR] ?? "").split(",")) if (token.trim()) given.push(token.trim());
    }
    this.tokens = given.map((entry, index) => {
      const token: ApiToken = typeof entry === "string" ? { token: entry } : entry;
      if (
        typeof token.token !== "string" ||
        token.token.length < MIN_TOKEN_LENGTH ||
        /\s/.test(token.token)
      ) {
        throw new ConfigError(
          `API token ${token.name ?? `#${index + 1}`} must be at least ${MIN_TOKEN_LENGTH} characters without spaces. Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
          { scope: "server" },
        );
      }
      const hashed = digest(token.token);
      const limit = token.rateLimit === false ? undefined : (token.rateLimit ?? options.rateLimit);
      return {
        digest: hashed,
        principal: {
          name: token.name ?? `token-${index + 1}`,
          key: `api:token:${hashed.toString("hex").slice(0, 32)}`,
          rateLimit: limit,
        },
      };
    });
    this.anonymous = { name: "anonymous", key: "api:anonymous", rateLimit: options.rateLimit };
  }

  /** Whether any token is configured (the API is closed to callers without one). */
  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /**
   * The caller of `req`, or an `HttpError` 401. Compares SHA-256 digests with `timingSafeEqual`
   * against every token, without stopping at a match, so timing tells nothing about a token.
   */
  authenticate(req: IncomingMessage): Principal {
    if (!this.enabled) return this.anonymous;
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new HttpError(
        401,
        "UNAUTHORIZED",
        "this API needs a bearer token. Send the header Authorization: Bearer <token>.",
        { headers: { "www-authenticate": 'Bearer realm="conveyor"' } },
      );
    }
    const presented = digest(match[1]!);
    let found: Principal | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(presented, token.digest) && !found) found = token.principal;
    }
    if (!found) {
      throw new HttpError(401, "UNAUTHORIZED", "the bearer token is not valid. Check the token you send.", {
        headers: { "www-authenticate": 'Bearer realm="conveyor", error="invalid_token"' },
      });
    }
    return found;
  }
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare === "::1" || bare === "0:0:0:0:0:0:0:1") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)) return true;
  return /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
