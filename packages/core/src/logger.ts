import type { Logger } from "./contracts/task.js";

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * A logger that writes one line per call to stderr, with fields as `key=value`.
 * The level comes from the argument, else `CONVEYOR_LOG_LEVEL`, else `info`.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@conveyor/core";
 * const log = consoleLogger("debug");
 * log.info("worker started", { concurrency: 4 });
 * ```
 */
export function consoleLogger(level?: LogLevel): Logger {
  const min =
    ORDER[level ?? (process.env.CONVEYOR_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? ORDER.info;
  const write = (lvl: Exclude<LogLevel, "silent">) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")
      : "";
    process.stderr.write(`conveyor ${lvl} ${message}${extra ? ` ${extra}` : ""}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

/** A logger that adds `fields` to every line of `logger`. */
export function childLogger(logger: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => logger.debug(m, { ...fields, ...f }),
    info: (m, f) => logger.info(m, { ...fields, ...f }),
    warn: (m, f) => logger.warn(m, { ...fields, ...f }),
    error: (m, f) => logger.error(m, { ...fields, ...f }),
  };
}
