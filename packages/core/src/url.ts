import { ConfigError } from "./errors.js";

/**
 * Hides the password (and a token-like username with no password) of a URL for printing.
 *
 * @example
 * ```ts
 * import { maskUrl } from "@conveyor/core";
 * maskUrl("redis://:secret@localhost:6379/0"); // "redis://:***@localhost:6379/0"
 * ```
 */
export function maskUrl(url: string): string {
  return url
    .split(",")
    .map((part) =>
      part.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, auth: string) => {
        const colon = auth.indexOf(":");
        if (colon === -1) return `${scheme}***@`;
        return `${scheme}${auth.slice(0, colon)}:***@`;
      }),
    )
    .join(",");
}

/** Hides every URL password inside a free text (error messages, logs). */
export function maskUrlsIn(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'`]+/gi, (url) => maskUrl(url));
}

/** The scheme of a backend URL without `:` (`"bullmq+redis"` for `bullmq+redis://…`). */
export function urlScheme(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim());
  if (!match) {
    throw new ConfigError(
      `"${maskUrl(url)}" is not a backend URL. Use a URL such as memory://, disk://./.conveyor or redis://localhost:6379.`,
    );
  }
  return match[1]!.toLowerCase();
}

/** Parses a backend URL; throws {@link ConfigError} with the masked URL when it is malformed. */
export function parseUrl(url: string): URL {
  urlScheme(url);
  try {
    return new URL(url.trim());
  } catch (cause) {
    throw new ConfigError(`"${maskUrl(url)}" is not a valid URL. Check its syntax.`, { cause });
  }
}
