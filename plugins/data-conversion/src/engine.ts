import { sep } from "node:path";
import { defineResource, type Resource } from "@conveyor/core";
import { DuckDBInstance } from "@duckdb/node-api";
import { sqlString } from "./formats.js";

/**
 * DuckDB's memory limit when none is given. What DuckDB tracks is only part of a worker's
 * resident set (the Node heap, DuckDB's own code and untracked buffers come on top): with 128MB,
 * a 10,000,000-row CSV → Parquet conversion peaks under 300 MB RSS in the worker, as fast as with
 * 512MB (see the guide's "Performance" section).
 */
const DEFAULT_MEMORY_LIMIT = "128MB";

/**
 * Options of the DuckDB instance a worker shares between its conversion jobs.
 *
 * @example
 * ```ts
 * import type { DuckDbOptions } from "@conveyor/plugin-data-conversion";
 * const options: DuckDbOptions = { threads: 2, memoryLimit: "256MB", allowedDirectories: ["/srv/data"] };
 * ```
 */
export interface DuckDbOptions {
  /** Threads DuckDB uses for all jobs of the worker. @defaultValue the number of CPU cores */
  threads?: number;
  /** DuckDB's memory limit, e.g. `"256MB"`; larger files stream through it. @defaultValue `"128MB"` */
  memoryLimit?: string;
  /**
   * Folders DuckDB itself may read and write; every other file access is refused by DuckDB
   * (external access is disabled), a second fence behind the plugin's path checks.
   * @defaultValue no file access at all
   */
  allowedDirectories?: readonly string[];
}

/**
 * Creates the resource that holds one in-memory DuckDB instance per worker process. Nothing is
 * ever downloaded: extension auto-install and auto-load are off (parquet and json are built into
 * the binary `@duckdb/node-api` ships), and external access is limited to `allowedDirectories`.
 * Jobs open their own connection on it, so one job's interrupt never stops another.
 *
 * @example
 * ```ts
 * import { defineTask } from "@conveyor/core";
 * import { duckDbResource } from "@conveyor/plugin-data-conversion";
 *
 * const duckdb = duckDbResource({ threads: 2, allowedDirectories: [process.cwd()] });
 * export const version = defineTask({
 *   name: "demo.duckdbVersion",
 *   async run(_input: unknown, ctx) {
 *     const connection = await (await ctx.resource(duckdb)).connect();
 *     try {
 *       return (await connection.runAndReadAll("SELECT version() AS v")).getRowObjects()[0]?.v;
 *     } finally {
 *       connection.closeSync();
 *     }
 *   },
 * });
 * ```
 */
export function duckDbResource(options: DuckDbOptions = {}): Resource<DuckDBInstance> {
  return defineResource({
    name: "dataConversion.duckdb",
    async load({ log }) {
      const config: Record<string, string> = {
        autoinstall_known_extensions: "false",
        autoload_known_extensions: "false",
        memory_limit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
        ...(options.threads !== undefined ? { threads: String(options.threads) } : {}),
      };
      const instance = await DuckDBInstance.create(":memory:", config);
      const connection = await instance.connect();
      try {
        const dirs = (options.allowedDirectories ?? []).map((dir) =>
          sqlString(dir.endsWith(sep) ? dir : `${dir}${sep}`),
        );
        await connection.run(`SET allowed_directories = [${dirs.join(", ")}]`);
        // Last: once external access is off it cannot be turned back on, not even by a query.
        await connection.run("SET enable_external_access = false");
        const version = (await connection.runAndReadAll("SELECT version() AS v")).getRowObjects()[0]?.v;
        log.debug("duckdb loaded", { version: String(version), memoryLimit: config.memory_limit });
      } finally {
        connection.closeSync();
      }
      return instance;
    },
    dispose(instance) {
      instance.closeSync();
    },
  });
}
