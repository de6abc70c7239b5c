import { ConveyorError, type ConveyorErrorOptions } from "@conveyor/core";

/**
 * A file format the plugin cannot read or write, or cannot infer from a file extension.
 *
 * @example
 * ```ts
 * import { UnsupportedFormatError } from "@conveyor/plugin-data-conversion";
 *
 * const error = new UnsupportedFormatError("data.xlsx", "xlsx");
 * console.log(error.code); // "UNSUPPORTED_FORMAT"
 * ```
 */
export class UnsupportedFormatError extends ConveyorError {
  override name = "UnsupportedFormatError" as const;
  constructor(path: string, format: string, options: ConveyorErrorOptions = {}) {
    super(
      "UNSUPPORTED_FORMAT",
      `cannot tell or handle the format of "${path}" (${format || "no extension"}). Use a .csv, .tsv, .json, .ndjson/.jsonl or .parquet file, or pass from/to explicitly.`,
      {
        scope: "data-conversion",
        ...options,
        retryable: false,
        details: { ...options.details, path, format },
      },
    );
  }
}

/**
 * The engine could not convert the data: a parse error (with `details.line` when the engine
 * names one), an unknown column, a failed cast. Not retryable: the same file fails the same way.
 *
 * @example
 * ```ts
 * import { ConversionError } from "@conveyor/plugin-data-conversion";
 *
 * const error = new ConversionError("Malformed JSON at byte 8 in line 3", { line: 3 });
 * console.log(error.details.line); // 3
 * ```
 */
export class ConversionError extends ConveyorError {
  override name = "ConversionError" as const;
  constructor(message: string, details: Record<string, unknown> = {}, options: ConveyorErrorOptions = {}) {
    super(
      "CONVERSION",
      `conversion failed: ${message.trim()}${/[.!]$/.test(message.trim()) ? "" : "."} Fix the input file, or pass onError: "skip" to skip bad CSV rows.`,
      { scope: "data-conversion", ...options, retryable: false, details: { ...options.details, ...details } },
    );
  }
}
