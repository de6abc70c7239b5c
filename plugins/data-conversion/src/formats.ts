import { extname } from "node:path";
import { UnsupportedFormatError } from "./errors.js";

/**
 * The file formats the plugin reads and writes. `json` is one JSON array of objects; `ndjson` is
 * one JSON object per line.
 *
 * @example
 * ```ts
 * import { FORMATS } from "@conveyor/plugin-data-conversion";
 * console.log(FORMATS.join(", ")); // csv, tsv, json, ndjson, parquet
 * ```
 */
export const FORMATS = ["csv", "tsv", "json", "ndjson", "parquet"] as const;

/**
 * One of {@link FORMATS}.
 *
 * @example
 * ```ts
 * import type { Format } from "@conveyor/plugin-data-conversion";
 * const format: Format = "parquet";
 * ```
 */
export type Format = (typeof FORMATS)[number];

/**
 * Parquet compression codecs DuckDB writes.
 *
 * @example
 * ```ts
 * import { PARQUET_COMPRESSIONS } from "@conveyor/plugin-data-conversion";
 * console.log(PARQUET_COMPRESSIONS.includes("zstd")); // true
 * ```
 */
export const PARQUET_COMPRESSIONS = ["snappy", "zstd", "gzip", "lz4", "brotli", "uncompressed"] as const;

const EXTENSIONS: Record<string, Format> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".json": "json",
  ".ndjson": "ndjson",
  ".jsonl": "ndjson",
  ".parquet": "parquet",
  ".pq": "parquet",
};

/**
 * The format of a path from its extension (`.csv`, `.tsv`/`.tab`, `.json`, `.ndjson`/`.jsonl`,
 * `.parquet`/`.pq`, case-insensitive), or `undefined` when the extension is not one of them.
 *
 * @example
 * ```ts
 * import { formatOf } from "@conveyor/plugin-data-conversion";
 * console.log(formatOf("events.JSONL")); // "ndjson"
 * ```
 */
export function formatOf(path: string): Format | undefined {
  return EXTENSIONS[extname(path).toLowerCase()];
}

/** The format given, or the one of the path's extension; throws {@link UnsupportedFormatError}. */
export function resolveFormat(path: string, given: Format | undefined): Format {
  const format = given ?? formatOf(path);
  if (!format) throw new UnsupportedFormatError(path, extname(path));
  return format;
}

/** A SQL string literal. */
export const sqlString = (value: string): string => `'${value.replaceAll("'", "''")}'`;
/** A SQL identifier, always quoted. */
export const sqlIdentifier = (value: string): string => `"${value.replaceAll('"', '""')}"`;

/** What the reader and writer need besides the format. */
export interface FormatOptions {
  delimiter?: string | undefined;
  header?: boolean | undefined;
  compression?: (typeof PARQUET_COMPRESSIONS)[number] | undefined;
  skipBadRows?: boolean | undefined;
}

/**
 * The CSV reader's buffer, per reading thread. DuckDB's default (16 × the 2 MB longest line, so
 * 32 MB a thread) is most of what it holds while converting a CSV file; 8 MB reads as fast here
 * and keeps a worker's peak RSS under 300 MB (see the guide's "Performance" section).
 */
const CSV_BUFFER_BYTES = 8 * 2 ** 20;

/** The table function that reads `path` as `format`. */
export function readerSql(path: string, format: Format, options: FormatOptions): string {
  const file = sqlString(path);
  switch (format) {
    case "csv":
    case "tsv": {
      const delimiter = options.delimiter ?? (format === "tsv" ? "\t" : undefined);
      const args = [
        file,
        `header = ${options.header ?? true}`,
        `buffer_size = ${CSV_BUFFER_BYTES}`,
        ...(delimiter !== undefined ? [`delim = ${sqlString(delimiter)}`] : []),
        ...(options.skipBadRows ? ["ignore_errors = true", "store_rejects = true"] : []),
      ];
      return `read_csv(${args.join(", ")})`;
    }
    case "json":
      return `read_json(${file}, format = 'array')`;
    case "ndjson":
      return `read_json(${file}, format = 'newline_delimited')`;
    case "parquet":
      return `read_parquet(${file})`;
  }
}

/** The options of `COPY … TO` that write `format`. */
export function writerSql(format: Format, options: FormatOptions): string {
  switch (format) {
    case "csv":
    case "tsv": {
      const delimiter = options.delimiter ?? (format === "tsv" ? "\t" : ",");
      return `(FORMAT csv, HEADER ${options.header ?? true}, DELIMITER ${sqlString(delimiter)})`;
    }
    case "json":
      return "(FORMAT json, ARRAY true)";
    case "ndjson":
      return "(FORMAT json)";
    case "parquet":
      return `(FORMAT parquet, COMPRESSION ${sqlString(options.compression ?? "snappy")})`;
  }
}
