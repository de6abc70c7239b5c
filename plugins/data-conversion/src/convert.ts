import { randomBytes } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  defineTask,
  isConveyorError,
  PathNotAllowedError,
  type Resource,
  resolveInputPath,
  resolveOutputPath,
  type Task,
} from "@conveyor/core";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { z } from "zod";
import { ConversionError } from "./errors.js";
import {
  FORMATS,
  type Format,
  formatOf,
  PARQUET_COMPRESSIONS,
  readerSql,
  resolveFormat,
  sqlIdentifier,
  sqlString,
  writerSql,
} from "./formats.js";
import { takeTurn } from "./turns.js";

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])?$/;

/**
 * The input schema of `dataConversion.convert` (zod, a Standard Schema). Formats are inferred
 * from the file extensions when `from`/`to` are left out; a path whose format cannot be inferred
 * is refused before the job is enqueued.
 *
 * @example
 * ```ts
 * import { ConvertInput } from "@conveyor/plugin-data-conversion";
 *
 * const input = ConvertInput.parse({
 *   input: "samples/orders.csv",
 *   output: "out/orders.parquet",
 *   options: { columns: ["id", "total"], compression: "zstd" },
 * });
 * ```
 */
export const ConvertInput = z
  .object({
    /** The file to read, relative to the first root or absolute (inside a root). */
    input: z.string().min(1),
    /** The file to write (replaced when it exists); its folder must exist. */
    output: z.string().min(1),
    /** Input format. @defaultValue inferred from the input's extension */
    from: z.enum(FORMATS).optional(),
    /** Output format. @defaultValue inferred from the output's extension */
    to: z.enum(FORMATS).optional(),
    options: z
      .object({
        /** CSV field delimiter, for reading and writing. @defaultValue auto-detected on read, `,` on write (TSV: tab) */
        delimiter: z.string().length(1).optional(),
        /** Whether CSV/TSV files have a header line, for reading and writing. @defaultValue true */
        header: z.boolean().optional(),
        /** Only these columns, in this order. @defaultValue every column */
        columns: z.array(z.string().min(1)).min(1).optional(),
        /** Column types to cast to, e.g. `{ id: "BIGINT", price: "DECIMAL(10,2)" }`; others are inferred. */
        types: z
          .record(
            z.string(),
            z.string().regex(TYPE_NAME, "a DuckDB type name such as BIGINT or DECIMAL(10,2)"),
          )
          .optional(),
        /** Parquet compression codec. @defaultValue "snappy" */
        compression: z.enum(PARQUET_COMPRESSIONS).optional(),
        /** On a bad CSV/TSV row: fail the job (with its line) or skip it and count it. @defaultValue "fail" */
        onError: z.enum(["fail", "skip"]).optional(),
      })
      .optional(),
  })
  .superRefine((value, ctx) => {
    for (const side of ["input", "output"] as const) {
      const given = side === "input" ? value.from : value.to;
      if (!given && !formatOf(value[side])) {
        ctx.addIssue({
          code: "custom",
          path: [side],
          message: `cannot infer the format from "${value[side]}"; use a .csv, .tsv, .json, .ndjson/.jsonl or .parquet extension, or pass ${side === "input" ? "from" : "to"}`,
        });
      }
    }
    const from = value.from ?? formatOf(value.input);
    if (value.options?.onError === "skip" && from !== "csv" && from !== "tsv") {
      ctx.addIssue({
        code: "custom",
        path: ["options", "onError"],
        message: `"skip" is only supported for CSV and TSV input`,
      });
    }
  });

/**
 * The input of `dataConversion.convert`, as {@link ConvertInput} parses it.
 *
 * @example
 * ```ts
 * import type { ConvertInputType } from "@conveyor/plugin-data-conversion";
 * const input: ConvertInputType = { input: "a.csv", output: "a.parquet" };
 * ```
 */
export type ConvertInputType = z.infer<typeof ConvertInput>;

/**
 * What `dataConversion.convert` returns.
 *
 * @example
 * ```ts
 * import type { ConvertResult } from "@conveyor/plugin-data-conversion";
 * const result: ConvertResult = { rows: 3, bytes: 512, durationMs: 12, output: "/data/a.parquet", from: "csv", to: "parquet" };
 * ```
 */
export interface ConvertResult {
  /** Rows written. */
  rows: number;
  /** Size of the output file in bytes. */
  bytes: number;
  /** Time the job ran, in ms (waiting for its turn on the worker's DuckDB included). */
  durationMs: number;
  /** The absolute path written. */
  output: string;
  from: Format;
  to: Format;
  /** With `onError: "skip"`: the rows skipped and up to five of them with their line and error. */
  rejected?: { count: number; sample: { line: number; message: string }[] };
}

/** Options of {@link convertTask}, given by the plugin. */
export interface ConvertTaskOptions {
  /** The DuckDB resource the task converts with. */
  duckdb: Resource<DuckDBInstance>;
  /** Folders paths must stay in. @defaultValue the worker's working folder */
  roots?: readonly string[] | undefined;
  /** Largest input accepted, in bytes. @defaultValue no limit */
  maxInputBytes?: number | undefined;
  /** How often progress is reported while converting, in ms. @defaultValue 250 */
  progressIntervalMs?: number | undefined;
}

const SAMPLE_BYTES = 64 * 1024;

/**
 * Rows in a text file, estimated from its size and the rows in its first 64 KB (exact for a file
 * that small). Used only for the progress total; the result counts rows exactly.
 */
async function estimateRows(
  path: string,
  format: Format,
  bytes: number,
  header: boolean,
): Promise<number | undefined> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(SAMPLE_BYTES, bytes));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8");
    let rows = 0;
    let end = 0;
    if (format === "json") {
      let depth = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const char = text[i];
        if (inString) {
          if (char === "\\") i++;
          else if (char === '"') inString = false;
        } else if (char === '"') inString = true;
        else if (char === "[" || char === "{") {
          if (char === "{" && depth === 1) rows++;
          depth++;
        } else if (char === "]" || char === "}") {
          depth--;
          if (depth === 1) end = i + 1;
        }
      }
    } else {
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
        rows++;
        end = i + 1;
      }
      if (bytesRead === bytes && end < text.length) {
        rows++;
        end = text.length;
      }
      if (header && (format === "csv" || format === "tsv")) rows = Math.max(0, rows - 1);
    }
    if (bytesRead === bytes) return rows;
    if (end === 0 || rows === 0) return undefined;
    return Math.round((rows * bytes) / Buffer.byteLength(text.slice(0, end)));
  } finally {
    await handle.close();
  }
}

async function totalRows(
  connection: DuckDBConnection,
  path: string,
  format: Format,
  bytes: number,
  header: boolean,
): Promise<number | undefined> {
  if (format === "parquet") {
    const reader = await connection.runAndReadAll(
      `SELECT sum(num_rows) AS rows FROM parquet_file_metadata(${sqlString(path)})`,
    );
    return Number(reader.getRowObjects()[0]?.rows ?? 0);
  }
  return estimateRows(path, format, bytes, header);
}

function selectList(
  columns: readonly string[] | undefined,
  types: Record<string, string> | undefined,
): string {
  const cast = (column: string) =>
    types?.[column]
      ? `CAST(${sqlIdentifier(column)} AS ${types[column]}) AS ${sqlIdentifier(column)}`
      : sqlIdentifier(column);
  if (columns) return columns.map(cast).join(", ");
  const replaced = Object.keys(types ?? {});
  return replaced.length ? `* REPLACE (${replaced.map(cast).join(", ")})` : "*";
}

/** A DuckDB error as a {@link ConversionError}, with the line number when DuckDB gives one. */
function conversionError(error: unknown): ConversionError {
  const message = (error as Error)?.message ?? String(error);
  const first = message.split("\n\nLINE 1:")[0] ?? message;
  const line = /\bline:?\s+(\d+)/i.exec(first)?.[1];
  return new ConversionError(first, line ? { line: Number(line) } : {}, { cause: error });
}

/**
 * Creates the `dataConversion.convert` task bound to a DuckDB resource and roots. Most apps use
 * {@link dataConversion} instead, which builds it and its resource from one options object.
 *
 * It runs one `COPY (SELECT … FROM read_…(input)) TO output (FORMAT …)` in DuckDB on the job's
 * own connection: DuckDB streams the file in chunks, so memory stays bounded whatever its size.
 * A worker's conversions take turns on its DuckDB instance (one `COPY` at a time, first come
 * first served; a job cancelled while it waits leaves the line): each uses every DuckDB thread,
 * and together they would share one memory limit, which DuckDB answers with Out of Memory.
 * Progress is DuckDB's (polled every `progressIntervalMs`) in rows of an estimated total (exact
 * for Parquet input). The output is written to a temporary file next to it and renamed when
 * done, so a failed or cancelled job never leaves a partial file. `ctx.signal` interrupts the
 * query.
 *
 * @example
 * ```ts
 * import { convertTask, duckDbResource } from "@conveyor/plugin-data-conversion";
 *
 * const duckdb = duckDbResource({ allowedDirectories: ["/srv/data"] });
 * export const convert = convertTask({ duckdb, roots: ["/srv/data"] });
 * ```
 */
export function convertTask(options: ConvertTaskOptions): Task<ConvertInputType, ConvertResult> {
  return defineTask({
    name: "dataConversion.convert",
    description: "convert a CSV, TSV, JSON, NDJSON or Parquet file to another of these formats",
    input: ConvertInput,
    async run(input, ctx): Promise<ConvertResult> {
      const started = performance.now();
      const roots = options.roots?.length ? options.roots : [process.cwd()];
      const from = resolveFormat(input.input, input.from);
      const to = resolveFormat(input.output, input.to);
      const fence = { roots, scope: "data-conversion", hint: "dataConversion({ roots: [...] })" };
      const source = await resolveInputPath(input.input, { ...fence, maxBytes: options.maxInputBytes });
      const target = await resolveOutputPath(input.output, fence);
      if (source.path === target) {
        throw new PathNotAllowedError(
          input.output,
          "it is the input file. Write to another file",
          { reason: "same-file" },
          { scope: "data-conversion" },
        );
      }
      const opts = input.options ?? {};
      const formatOptions = {
        delimiter: opts.delimiter,
        header: opts.header,
        compression: opts.compression,
        skipBadRows: opts.onError === "skip",
      };
      ctx.signal.throwIfAborted();

      const instance = await ctx.resource(options.duckdb);
      const endTurn = await takeTurn(instance, ctx.signal, () => {
        void ctx.progress(0, undefined, "waiting for this worker's other conversion to finish");
      });
      const connection = await instance.connect().catch((error: unknown) => {
        endTurn();
        throw error;
      });
      const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
      const interrupt = () => connection.interrupt();
      ctx.signal.addEventListener("abort", interrupt, { once: true });
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      try {
        await connection.run(
          "SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0",
        );
        const total = await totalRows(connection, source.path, from, source.bytes, opts.header ?? true);
        void ctx.progress(0, total, `converting ${from} to ${to}`);
        timer = setInterval(() => {
          const { percentage } = connection.progress;
          if (percentage < 0 || total === undefined) return;
          const current = Math.min(total, Math.round((percentage / 100) * total));
          void ctx.progress(current, total, `${percentage.toFixed(0)}% read`);
        }, options.progressIntervalMs ?? 250);
        timer.unref();

        const sql = `COPY (SELECT ${selectList(opts.columns, opts.types)} FROM ${readerSql(source.path, from, formatOptions)}) TO ${sqlString(temporary)} ${writerSql(to, formatOptions)}`;
        let rows: number;
        try {
          rows = Number((await connection.run(sql)).rowsChanged);
        } catch (error) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          throw conversionError(error);
        }
        clearInterval(timer);
        let rejected: ConvertResult["rejected"];
        if (formatOptions.skipBadRows) {
          const reader = await connection.runAndReadAll(
            "SELECT count(*) OVER () AS count, line, error_message FROM reject_errors ORDER BY line LIMIT 5",
          );
          const sample = reader.getRowObjects();
          rejected = {
            count: Number(sample[0]?.count ?? 0),
            sample: sample.map((row) => ({ line: Number(row.line), message: String(row.error_message) })),
          };
        }
        ctx.signal.throwIfAborted();
        await rename(temporary, target);
        done = true;
        const { size } = await stat(target);
        await ctx.progress(rows, rows, "converted");
        return {
          rows,
          bytes: size,
          durationMs: Math.round(performance.now() - started),
          output: target,
          from,
          to,
          ...(rejected ? { rejected } : {}),
        };
      } catch (error) {
        if (isConveyorError(error) || ctx.signal.aborted) throw error;
        throw conversionError(error);
      } finally {
        clearInterval(timer);
        ctx.signal.removeEventListener("abort", interrupt);
        connection.closeSync();
        endTurn();
        if (!done) await rm(temporary, { force: true });
      }
    },
  });
}
