import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, maskUrl, parseUrl, urlScheme } from "@conveyor/core";

/**
 * Where a disk store lives: exactly one of a folder path or a `disk://` URL. The queue keeps its
 * jobs in `<folder>/queue.sqlite`, the cache its entries in `<folder>/cache.sqlite`.
 *
 * @example
 * ```ts
 * import type { DiskLocation } from "@conveyor/disk";
 * const byPath: DiskLocation = { path: "./.conveyor" };
 * const byUrl: DiskLocation = { url: "disk:///var/lib/my-app?durability=full" };
 * console.log(byPath, byUrl);
 * ```
 */
export interface DiskLocation {
  /**
   * The folder holding the store's files (created when missing); relative paths resolve against
   * the current working directory. Give this or `url`.
   */
  path?: string;
  /**
   * A `disk://` URL naming the folder: `disk://./.conveyor` (relative), `disk:///var/lib/app`
   * (absolute). Query options in the URL apply too (`?durability=full&leaseMs=30000`); options
   * given in code win. Give this or `path`.
   */
  url?: string;
}

/** A `disk://` URL taken apart: the folder, and the query options still to be read. */
export interface ParsedDiskUrl {
  folder: string;
  params: URLSearchParams;
}

/**
 * Reads a `disk://` URL. The folder is the URL's host and path together: `disk://./data` and
 * `disk://data` are relative to the working directory, `disk:///srv/data` is absolute.
 */
export function parseDiskUrl(url: string): ParsedDiskUrl {
  if (urlScheme(url) !== "disk") {
    throw new ConfigError(
      `"${maskUrl(url)}" is not a disk URL. Use disk://./folder or disk:///absolute/folder.`,
      {
        scope: "disk",
      },
    );
  }
  const parsed = parseUrl(url);
  if (parsed.port !== "" || parsed.username !== "" || parsed.password !== "") {
    throw new ConfigError(
      `"${maskUrl(url)}" has a port or credentials; a disk URL takes neither. Remove them.`,
      {
        scope: "disk",
      },
    );
  }
  const folder = decodeURIComponent(`${parsed.hostname}${parsed.pathname}`);
  if (folder === "" || (folder === "/" && parsed.hostname === "")) {
    throw new ConfigError(
      `"${maskUrl(url)}" names no folder. Use disk://./folder or disk:///absolute/folder.`,
      {
        scope: "disk",
      },
    );
  }
  return { folder, params: parsed.searchParams };
}

/** The absolute folder of a location, and the URL's query options (empty without a URL). */
export function resolveLocation(location: DiskLocation, what: string): ParsedDiskUrl {
  const { path, url } = location;
  if ((path === undefined) === (url === undefined)) {
    throw new ConfigError(
      `the disk ${what} needs exactly one of \`path\` (a folder) or \`url\` (disk://<folder>). Pass one of them.`,
      { scope: "disk" },
    );
  }
  if (path !== undefined) {
    if (typeof path !== "string" || path.trim() === "") {
      throw new ConfigError(`the disk ${what} option \`path\` must be a non-empty folder path.`, {
        scope: "disk",
      });
    }
    return { folder: resolve(path), params: new URLSearchParams() };
  }
  if (typeof url !== "string") {
    throw new ConfigError(`the disk ${what} option \`url\` must be a disk:// URL string.`, { scope: "disk" });
  }
  const parsed = parseDiskUrl(url);
  return {
    folder: isAbsolute(parsed.folder) ? parsed.folder : resolve(parsed.folder),
    params: parsed.params,
  };
}

/** The file of one kind of store inside a folder. */
export function storeFile(folder: string, kind: "queue" | "cache"): string {
  return join(folder, `${kind}.sqlite`);
}

/** Refuses query options a URL may not carry. */
export function checkParams(
  params: URLSearchParams,
  allowed: readonly string[],
  url: string,
  what: string,
): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw new ConfigError(
        `unknown option "${key}" in the disk ${what} URL "${maskUrl(url)}". Accepted: ${allowed.join(", ")}.`,
        { scope: "disk" },
      );
    }
  }
}

/** A positive number from a query option, or undefined when absent. */
export function numberParam(
  params: URLSearchParams,
  key: string,
  url: string,
  kind: "integer" | "number",
): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (
    raw.trim() === "" ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (kind === "integer" && !Number.isInteger(value))
  ) {
    throw new ConfigError(`the option ${key}=${raw} in "${maskUrl(url)}" must be a positive ${kind}.`, {
      scope: "disk",
    });
  }
  return value;
}

/** Checks that an option is a positive integer (or absent). */
export function checkPositiveInteger(value: unknown, name: string, what: string, min = 1): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(
      `the disk ${what} option ${name} must be an integer of at least ${min}, not ${String(value)}.`,
      {
        scope: "disk",
      },
    );
  }
}
