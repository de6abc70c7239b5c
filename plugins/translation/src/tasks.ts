import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  type BackoffOptions,
  defineTask,
  PathNotAllowedError,
  resolveInputPath,
  resolveOutputPath,
  type Task,
  type TaskContext,
} from "@conveyor/core";
import { z } from "zod";
import { type CacheCounts, translateTexts } from "./cache.js";
import type { EngineDefinition } from "./engine.js";
import { TranslationFileError } from "./errors.js";
import {
  CsvScanner,
  FILE_FORMATS,
  type FileFormat,
  fileFormatOf,
  JsonArrayScanner,
  NdjsonScanner,
  type Piece,
  parsePath,
  quoteCsv,
  type Row,
  ScanError,
} from "./formats.js";
import { canonicalCode, LANGUAGE_CODE } from "./languages.js";

/** Everything the tasks share, resolved once by the plugin. */
export interface TaskSettings {
  engines: ReadonlyMap<string, EngineDefinition>;
  defaultEngine: string;
  roots: readonly string[];
  maxInputBytes: number | undefined;
  cache: boolean;
  cacheTtlMs: number | undefined;
  chunkSize: number;
  queue: string | undefined;
  retries: number;
  backoff: BackoffOptions;
}

const language = z
  .string()
  .regex(LANGUAGE_CODE, 'a language code such as "en", "es", "en-US" or "eng"')
  .transform(canonicalCode);

function engineField(settings: TaskSettings) {
  const names = [...settings.engines.keys()] as [string, ...string[]];
  return z.enum(names).optional();
}

const chunkSizeField = z.number().int().min(1).max(10_000).optional();

function common(settings: TaskSettings) {
  return {
    retries: settings.retries,
    backoff: settings.backoff,
    ...(settings.queue !== undefined ? { queue: settings.queue } : {}),
  };
}

function engineOf(settings: TaskSettings, name: string | undefined): EngineDefinition {
  return settings.engines.get(name ?? settings.defaultEngine) as EngineDefinition;
}

function base(settings: TaskSettings, ctx: TaskContext, engine: EngineDefinition, from: string, to: string) {
  return {
    engine,
    from,
    to,
    ctx,
    useCache: settings.cache,
    cacheTtlMs: settings.cacheTtlMs,
    chunkSize: settings.chunkSize,
  };
}

// ------------------------------------------------------------------------------ translate

/** The input schema of `translation.translate`. */
export function translateInput(settings: TaskSettings) {
  return z.object({
    /** The text; blank text comes back as it is. */
    text: z.string(),
    from: language,
    to: language,
    /** The engine, by name. @defaultValue the plugin's default engine */
    engine: engineField(settings),
  });
}

/**
 * The input of `translation.translate`.
 *
 * @example
 * ```ts
 * import type { TranslateInput } from "@conveyor/plugin-translation";
 * const input: TranslateInput = { text: "The cat is on the table.", from: "en", to: "es" };
 * ```
 */
export interface TranslateInput {
  text: string;
  from: string;
  to: string;
  /** The engine, by name. @defaultValue the plugin's default engine */
  engine?: string | undefined;
}

/**
 * What `translation.translate` returns.
 *
 * @example
 * ```ts
 * import type { TranslateResult } from "@conveyor/plugin-translation";
 * const result: TranslateResult = { text: "El gato es en la mesa.", from: "en", to: "es", engine: "apertium", cached: false };
 * ```
 */
export interface TranslateResult {
  text: string;
  from: string;
  to: string;
  engine: string;
  /** Whether the translation came from the cache. */
  cached: boolean;
}

/** The `translation.translate` task: one text. */
export function translateTask(settings: TaskSettings): Task<TranslateInput, TranslateResult> {
  return defineTask({
    name: "translation.translate",
    description: "translate one text",
    input: translateInput(settings) as z.ZodType<TranslateInput>,
    ...common(settings),
    async run(input, ctx): Promise<TranslateResult> {
      const engine = engineOf(settings, input.engine);
      const answer = await translateTexts([input.text], base(settings, ctx, engine, input.from, input.to));
      return {
        text: answer.texts[0] as string,
        from: input.from,
        to: input.to,
        engine: engine.engine,
        cached: answer.hits > 0,
      };
    },
  });
}

// ------------------------------------------------------------------------------ translateBatch

/** The input schema of `translation.translateBatch`. */
export function translateBatchInput(settings: TaskSettings) {
  return z.object({
    /** The texts, answered in the same order; blank ones come back as they are. */
    texts: z.array(z.string()),
    from: language,
    to: language,
    engine: engineField(settings),
    /** Texts per engine call (and per progress step). @defaultValue the plugin's chunkSize */
    chunkSize: chunkSizeField,
  });
}

/**
 * The input of `translation.translateBatch`.
 *
 * @example
 * ```ts
 * import type { TranslateBatchInput } from "@conveyor/plugin-translation";
 * const input: TranslateBatchInput = { texts: ["Good morning.", "Thank you."], from: "en", to: "es" };
 * ```
 */
export interface TranslateBatchInput {
  texts: string[];
  from: string;
  to: string;
  /** The engine, by name. @defaultValue the plugin's default engine */
  engine?: string | undefined;
  /** Texts per engine call (and per progress step). @defaultValue the plugin's chunkSize */
  chunkSize?: number | undefined;
}

/**
 * What `translation.translateBatch` returns: the translations in input order, and how many
 * unique texts came from the cache (`hits`) or the engine (`misses`).
 *
 * @example
 * ```ts
 * import type { TranslateBatchResult } from "@conveyor/plugin-translation";
 * const result: TranslateBatchResult = {
 *   texts: ["Buenos días.", "Gracias."], from: "en", to: "es", engine: "apertium",
 *   cache: { hits: 0, misses: 2 }, durationMs: 12,
 * };
 * ```
 */
export interface TranslateBatchResult {
  texts: string[];
  from: string;
  to: string;
  engine: string;
  cache: CacheCounts;
  durationMs: number;
}

/** The `translation.translateBatch` task: many texts, progress per chunk. */
export function translateBatchTask(settings: TaskSettings): Task<TranslateBatchInput, TranslateBatchResult> {
  return defineTask({
    name: "translation.translateBatch",
    description: "translate many texts, cached per text, progress per chunk",
    input: translateBatchInput(settings) as z.ZodType<TranslateBatchInput>,
    ...common(settings),
    async run(input, ctx): Promise<TranslateBatchResult> {
      const started = performance.now();
      const engine = engineOf(settings, input.engine);
      const total = input.texts.length;
      const answer = await translateTexts(input.texts, {
        ...base(settings, ctx, engine, input.from, input.to),
        chunkSize: input.chunkSize ?? settings.chunkSize,
        onProgress: (done, hits) =>
          ctx.progress(done, total, `translated ${done}/${total} (${hits} from the cache)`),
      });
      return {
        texts: answer.texts,
        from: input.from,
        to: input.to,
        engine: engine.engine,
        cache: { hits: answer.hits, misses: answer.misses },
        durationMs: Math.round(performance.now() - started),
      };
    },
  });
}

// ------------------------------------------------------------------------------ translateFile

/** The input schema of `translation.translateFile`. */
export function translateFileInput(settings: TaskSettings) {
  return z
    .object({
      /** The file to read, relative to the first root or absolute (inside a root). */
      input: z.string().min(1),
      /** The file to write (replaced when it exists); its folder must exist. */
      output: z.string().min(1),
      /** CSV/TSV: column names (1-based positions with `header: false`); JSON/NDJSON: field paths (`review.text`, `items.*.text`). */
      columns: z.array(z.string().min(1)).min(1),
      from: language,
      to: language,
      engine: engineField(settings),
      /** The format of both files. @defaultValue from the input's extension */
      format: z.enum(FILE_FORMATS).optional(),
      /** CSV field delimiter. @defaultValue `","` (TSV: tab) */
      delimiter: z.string().length(1).optional(),
      /** Whether a CSV/TSV file starts with a header row. @defaultValue true */
      header: z.boolean().optional(),
      /**
       * Keep the original and write each translation next to it, in a column (CSV/TSV, appended)
       * or sibling field (JSON) named `<column><suffix>`, e.g. `"_es"`. @defaultValue translate in place
       */
      suffix: z.string().min(1).optional(),
      /** Rows per step (read, translate, write, report progress). @defaultValue the plugin's chunkSize */
      chunkSize: chunkSizeField,
    })
    .superRefine((value, ctx) => {
      const format = value.format ?? fileFormatOf(value.input);
      if (!format) {
        ctx.addIssue({
          code: "custom",
          path: ["input"],
          message: `cannot infer the format from "${value.input}"; use a .csv, .tsv, .json, .ndjson or .jsonl file, or pass format`,
        });
      }
      if (value.suffix !== undefined && (format === "json" || format === "ndjson")) {
        value.columns.forEach((column, index) => {
          const last = column.split(".").at(-1) ?? "";
          if (last === "*" || /^\d+$/.test(last)) {
            ctx.addIssue({
              code: "custom",
              path: ["columns", index],
              message: `with a suffix, a field path must end in a key (not "${last}"), so the translation has a sibling field to go to`,
            });
          }
        });
      }
    });
}

/**
 * The input of `translation.translateFile`.
 *
 * @example
 * ```ts
 * import type { TranslateFileInput } from "@conveyor/plugin-translation";
 * const input: TranslateFileInput = { input: "reviews.csv", output: "reviews.es.csv", columns: ["text"], from: "en", to: "es" };
 * ```
 */
export interface TranslateFileInput {
  input: string;
  output: string;
  /** CSV/TSV: column names (1-based positions with `header: false`); JSON/NDJSON: field paths (`review.text`, `items.*.text`). */
  columns: string[];
  from: string;
  to: string;
  /** The engine, by name. @defaultValue the plugin's default engine */
  engine?: string | undefined;
  /** The format of both files. @defaultValue from the input's extension */
  format?: FileFormat | undefined;
  /** CSV field delimiter. @defaultValue `","` (TSV: tab) */
  delimiter?: string | undefined;
  /** Whether a CSV/TSV file starts with a header row. @defaultValue true */
  header?: boolean | undefined;
  /** Write translations next to the originals, in `<column><suffix>`. @defaultValue translate in place */
  suffix?: string | undefined;
  /** Rows per step. @defaultValue the plugin's chunkSize */
  chunkSize?: number | undefined;
}

/**
 * What `translation.translateFile` returns.
 *
 * @example
 * ```ts
 * import type { TranslateFileResult } from "@conveyor/plugin-translation";
 * const result: TranslateFileResult = {
 *   rows: 40, cells: 40, output: "/data/reviews.es.csv", bytes: 4_096, format: "csv",
 *   from: "en", to: "es", engine: "apertium", cache: { hits: 3, misses: 37 }, durationMs: 210,
 * };
 * ```
 */
export interface TranslateFileResult {
  /** Data rows read and written (the header and blank lines not counted). */
  rows: number;
  /** Cells (or fields) translated, blank ones included. */
  cells: number;
  /** The absolute path written. */
  output: string;
  /** Size of the output file in bytes. */
  bytes: number;
  format: FileFormat;
  from: string;
  to: string;
  engine: string;
  cache: CacheCounts;
  durationMs: number;
}

interface Edit {
  at: number;
  until: number;
  text: string;
}

function render(
  row: Row,
  translations: readonly string[],
  format: FileFormat,
  delimiter: string,
  suffix: string | undefined,
): string {
  const edits: Edit[] = [];
  row.cells.forEach((cell, index) => {
    const text = translations[index] as string;
    if (suffix === undefined) {
      if (text === cell.value) return;
      edits.push({
        at: cell.start,
        until: cell.end,
        text:
          format === "csv" || format === "tsv"
            ? quoteCsv(text, delimiter, cell.quoted)
            : JSON.stringify(text),
      });
    } else if (format === "csv" || format === "tsv") {
      edits.push({
        at: row.contentEnd,
        until: row.contentEnd,
        text: `${delimiter}${quoteCsv(text, delimiter, false)}`,
      });
    } else if (cell.key !== undefined) {
      edits.push({
        at: cell.end,
        until: cell.end,
        text: `,${JSON.stringify(`${cell.key}${suffix}`)}:${JSON.stringify(text)}`,
      });
    }
  });
  if (edits.length === 0) return row.raw;
  edits.sort((a, b) => a.at - b.at);
  let out = "";
  let position = 0;
  for (const edit of edits) {
    out += row.raw.slice(position, edit.at) + edit.text;
    position = edit.until;
  }
  return out + row.raw.slice(position);
}

/** The `translation.translateFile` task: a CSV/TSV/JSON/NDJSON file, streamed, progress in rows. */
export function translateFileTask(settings: TaskSettings): Task<TranslateFileInput, TranslateFileResult> {
  return defineTask({
    name: "translation.translateFile",
    description:
      "translate columns of a CSV/TSV file or fields of a JSON/NDJSON file, streaming, progress in rows",
    input: translateFileInput(settings) as unknown as z.ZodType<TranslateFileInput>,
    ...common(settings),
    async run(input, ctx): Promise<TranslateFileResult> {
      const started = performance.now();
      const engine = engineOf(settings, input.engine);
      const format = (input.format ?? fileFormatOf(input.input)) as FileFormat;
      const fence = { roots: settings.roots, scope: "translation", hint: "translation({ roots: [...] })" };
      const source = await resolveInputPath(input.input, { ...fence, maxBytes: settings.maxInputBytes });
      const target = await resolveOutputPath(input.output, fence);
      if (source.path === target) {
        throw new PathNotAllowedError(
          input.output,
          "it is the input file. Write to another file",
          { reason: "same-file" },
          { scope: "translation" },
        );
      }
      const delimiter = input.delimiter ?? (format === "tsv" ? "\t" : ",");
      const chunkRows = input.chunkSize ?? settings.chunkSize;
      let scanner: { push(text: string, final?: boolean): Generator<Piece> };
      try {
        scanner =
          format === "csv" || format === "tsv"
            ? new CsvScanner(delimiter, input.header ?? true, input.columns, input.suffix)
            : format === "ndjson"
              ? new NdjsonScanner(input.columns.map(parsePath))
              : new JsonArrayScanner(input.columns.map(parsePath));
      } catch (error) {
        if (error instanceof ScanError) throw new TranslationFileError(input.input, error.message);
        throw error;
      }

      const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
      const out = createWriteStream(temporary);
      const written = new Promise<void>((resolve, reject) => {
        out.once("error", reject);
        out.once("finish", resolve);
      });
      written.catch(() => {});
      const write = async (text: string) => {
        if (text !== "" && !out.write(text)) {
          await new Promise<void>((resolve, reject) => {
            const onError = (error: Error) => reject(error);
            out.once("error", onError);
            out.once("drain", () => {
              out.off("error", onError);
              resolve();
            });
          });
        }
      };

      let rows = 0;
      let cells = 0;
      let bytesRead = 0;
      const counts: CacheCounts = { hits: 0, misses: 0 };
      let pending: Piece[] = [];
      let pendingRows = 0;
      const estimate = () =>
        bytesRead >= source.bytes || rows === 0 ? undefined : Math.round((rows * source.bytes) / bytesRead);

      const flush = async () => {
        const texts: string[] = [];
        for (const piece of pending)
          if ("row" in piece) for (const cell of piece.row.cells) texts.push(cell.value);
        const answer =
          texts.length > 0
            ? await translateTexts(texts, base(settings, ctx, engine, input.from, input.to))
            : { texts: [], hits: 0, misses: 0 };
        counts.hits += answer.hits;
        counts.misses += answer.misses;
        cells += texts.length;
        let next = 0;
        let chunk = "";
        for (const piece of pending) {
          if ("raw" in piece) chunk += piece.raw;
          else {
            const own = answer.texts.slice(next, next + piece.row.cells.length);
            next += piece.row.cells.length;
            chunk += render(piece.row, own, format, delimiter, input.suffix);
            rows++;
          }
        }
        await write(chunk);
        pending = [];
        pendingRows = 0;
        const total = estimate();
        await ctx.progress(rows, total ?? rows, `${rows} rows translated`);
      };

      let done = false;
      try {
        await ctx.progress(0, undefined, `translating ${format} ${input.from}→${input.to}`);
        const decoder = new TextDecoder("utf-8");
        const take = async (pieces: Generator<Piece>) => {
          for (const piece of pieces) {
            pending.push(piece);
            if ("row" in piece && ++pendingRows >= chunkRows) await flush();
          }
        };
        try {
          for await (const chunk of createReadStream(source.path, { highWaterMark: 256 * 1024 })) {
            ctx.signal.throwIfAborted();
            bytesRead += (chunk as Buffer).length;
            await take(scanner.push(decoder.decode(chunk as Buffer, { stream: true })));
          }
          await take(scanner.push(decoder.decode(), true));
        } catch (error) {
          if (error instanceof ScanError) {
            throw new TranslationFileError(input.input, error.message, { line: error.line });
          }
          throw error;
        }
        await flush();
        out.end();
        await written;
        ctx.signal.throwIfAborted();
        await rename(temporary, target);
        done = true;
        const { size } = await stat(target);
        return {
          rows,
          cells,
          output: target,
          bytes: size,
          format,
          from: input.from,
          to: input.to,
          engine: engine.engine,
          cache: counts,
          durationMs: Math.round(performance.now() - started),
        };
      } finally {
        if (!done) {
          out.destroy();
          await rm(temporary, { force: true });
        }
      }
    },
  });
}
