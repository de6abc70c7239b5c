import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { definePlugin, type Plugin } from "@conveyor/core";
import { convertTask } from "./convert.js";
import { duckDbResource } from "./engine.js";

/**
 * Options of {@link dataConversion}. Defaults are applied once, when the plugin is created.
 *
 * @example
 * ```ts
 * import type { DataConversionOptions } from "@conveyor/plugin-data-conversion";
 * const options: DataConversionOptions = { roots: ["./data"], memoryLimit: "256MB", maxInputBytes: 10 * 2 ** 30 };
 * ```
 */
export interface DataConversionOptions {
  /**
   * Folders every input and output must be in (after `..` and symlinks are resolved); relative
   * paths in a job resolve against the first one. DuckDB itself is fenced to them too.
   * @defaultValue `[process.cwd()]`
   */
  roots?: string[];
  /** Largest input file accepted, in bytes. @defaultValue no limit */
  maxInputBytes?: number;
  /** DuckDB threads per worker process. @defaultValue the number of CPU cores */
  threads?: number;
  /** DuckDB memory limit per worker process, e.g. `"256MB"`. @defaultValue `"128MB"` */
  memoryLimit?: string;
  /** How often progress is reported while converting, in ms. @defaultValue 250 */
  progressIntervalMs?: number;
}

/**
 * The data-conversion plugin: registers `dataConversion.convert` (CSV, TSV, JSON, NDJSON and
 * Parquet in and out, through DuckDB, streaming) and the DuckDB resource it shares, loaded once
 * per worker process and only by workers. Depends on `@conveyor/core` only; runs on any adapter.
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { type ConvertResult, dataConversion } from "@conveyor/plugin-data-conversion";
 *
 * const conveyor = await createConveyor({ plugins: [dataConversion({ roots: ["./data"] })], logger: false });
 * const worker = conveyor.worker();
 * const job = await conveyor.enqueue<ConvertResult>("dataConversion.convert", {
 *   input: "orders.csv",
 *   output: "orders.parquet",
 * });
 * console.log((await job.result()).rows);
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export function dataConversion(options: DataConversionOptions = {}): Plugin {
  const roots = (options.roots?.length ? options.roots : [process.cwd()]).map((root) => resolve(root));
  const real = roots.map((root) => {
    try {
      return realpathSync(root);
    } catch {
      return root;
    }
  });
  const duckdb = duckDbResource({
    // DuckDB is given real paths (symlinks resolved), so its fence must name the real roots.
    allowedDirectories: real,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {}),
  });
  return definePlugin({
    name: "dataConversion",
    tasks: [
      convertTask({
        duckdb,
        roots,
        maxInputBytes: options.maxInputBytes,
        progressIntervalMs: options.progressIntervalMs,
      }),
    ],
    resources: [duckdb],
  });
}
