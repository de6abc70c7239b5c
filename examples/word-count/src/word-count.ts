import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, resolve, sep } from "node:path";
import { definePlugin, defineResource, defineTask, UnrecoverableError } from "conveyor";
import { z } from "zod";

/** Folders never walked into: dependencies, build output and hidden folders (`.git`, …). */
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", "coverage"]);
/** A file with a NUL byte in its first bytes is binary and is skipped, as `grep -I` does. */
const BINARY_SNIFF_BYTES = 8_000;

/**
 * English and TypeScript words left out of `topWords`, read from `stop-words.txt` once per
 * worker process (the resource a real plugin would use for a model or a dictionary).
 *
 * @example
 * ```ts
 * import { createConveyor, defineTask } from "conveyor";
 * import { stopWords } from "./word-count.js";
 *
 * const isStopWord = defineTask({
 *   name: "files.isStopWord",
 *   run: async ({ word }: { word: string }, ctx) => (await ctx.resource(stopWords)).has(word),
 * });
 * const conveyor = await createConveyor({ tasks: [isStopWord], logger: false });
 * await conveyor.close();
 * ```
 */
export const stopWords = defineResource({
  name: "files.stopWords",
  async load({ log }) {
    const text = await readFile(new URL("./stop-words.txt", import.meta.url), "utf8");
    const words = new Set(text.split(/\s+/).filter(Boolean));
    log.debug("stop words loaded", { count: words.size });
    return words;
  },
});

/**
 * The input of `files.wordCount`.
 *
 * @example
 * ```ts
 * import { WordCountInput } from "./word-count.js";
 * WordCountInput.parse({ dir: "./src", extensions: ["ts", ".md"] });
 * ```
 */
export const WordCountInput = z.object({
  /** The folder to walk (absolute, or relative to the worker's working folder). */
  dir: z.string().min(1),
  /** Only files with these extensions (`"ts"` or `".ts"`); all text files when omitted. */
  extensions: z.array(z.string().regex(/^\.?[A-Za-z0-9_-]+$/, "an extension such as .ts or md")).optional(),
});

/**
 * Counts of one file.
 *
 * @example
 * ```ts
 * import type { FileCount } from "./word-count.js";
 * const file: FileCount = { path: "src/a.ts", lines: 10, words: 42, bytes: 300 };
 * ```
 */
export interface FileCount {
  /** Path relative to the walked folder, with `/` separators. */
  path: string;
  lines: number;
  words: number;
  bytes: number;
}

/**
 * The result of `files.wordCount`.
 *
 * @example
 * ```ts
 * import { createConveyor } from "conveyor";
 * import { files, type WordCountResult } from "./word-count.js";
 *
 * const conveyor = await createConveyor({ plugins: [files], logger: false });
 * const job = await conveyor.enqueue<WordCountResult>("files.wordCount", { dir: "." });
 * console.log(job.id);
 * await conveyor.close();
 * ```
 */
export interface WordCountResult {
  /** The folder walked, absolute. */
  dir: string;
  /** Text files counted. */
  files: number;
  lines: number;
  /** Whitespace-separated words, as `wc -w` counts them. */
  words: number;
  bytes: number;
  /** Binary files left out. */
  skipped: number;
  /** The five files with the most words. */
  topFiles: FileCount[];
  /** The ten most frequent words of three letters or more, stop words left out. */
  topWords: { word: string; count: number }[];
}

async function listFiles(
  root: string,
  extensions: Set<string> | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    signal.throwIfAborted();
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // A missing root is the caller's mistake, and retrying will not fix it; an unreadable
      // subfolder is skipped.
      if (dir !== root) return;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        throw new UnrecoverableError(`"${root}" is not a folder. Pass an existing folder as dir.`, {
          cause: error,
        });
      }
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) await walk(path);
      } else if (entry.isFile() && (!extensions || extensions.has(extname(entry.name).toLowerCase()))) {
        found.push(path);
      }
    }
  };
  await walk(root);
  return found.sort();
}

function countLines(text: string): number {
  if (text.length === 0) return 0;
  let lines = 0;
  for (let index = text.indexOf("\n"); index !== -1; index = text.indexOf("\n", index + 1)) lines++;
  // A last line without a newline still counts (wc -l would miss it).
  return text.endsWith("\n") ? lines : lines + 1;
}

/**
 * `files.wordCount`: walks a folder (skipping `node_modules`, `dist`, `coverage` and hidden
 * folders), counts lines, words and bytes of every text file, reports progress per file and
 * returns the totals, the top 5 files by words and the top 10 words. Stops when `ctx.signal`
 * aborts (cancel, soft timeout, worker shutdown).
 *
 * @example
 * ```ts
 * import { createConveyor } from "conveyor";
 * import { files, wordCount } from "./word-count.js";
 *
 * const conveyor = await createConveyor({ plugins: [files], logger: false });
 * const worker = conveyor.worker();
 * const job = await conveyor.enqueue(wordCount, { dir: "./src", extensions: [".ts"] });
 * console.log((await job.result()).words);
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export const wordCount = defineTask({
  name: "files.wordCount",
  description: "count lines, words and bytes of the text files under a folder",
  input: WordCountInput,
  async run({ dir, extensions }, ctx): Promise<WordCountResult> {
    const root = resolve(dir);
    const wanted = extensions
      ? new Set(extensions.map((ext) => (ext.startsWith(".") ? ext : `.${ext}`).toLowerCase()))
      : undefined;
    const paths = await listFiles(root, wanted, ctx.signal);
    const ignored = await ctx.resource(stopWords);
    const counts: FileCount[] = [];
    const frequency = new Map<string, number>();
    let skipped = 0;

    for (const [index, path] of paths.entries()) {
      ctx.signal.throwIfAborted();
      const name = relative(root, path).split(sep).join("/");
      // Not awaited: the runtime coalesces progress writes, and the count goes on meanwhile.
      void ctx.progress(index, paths.length, name);
      const bytes = await readFile(path, { signal: ctx.signal });
      if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
        skipped++;
        continue;
      }
      const text = bytes.toString("utf8");
      counts.push({
        path: name,
        lines: countLines(text),
        words: text.split(/\s+/).filter(Boolean).length,
        bytes: bytes.length,
      });
      for (const match of text.matchAll(/[A-Za-z][A-Za-z'-]{2,}/g)) {
        const word = match[0].toLowerCase();
        if (!ignored.has(word)) frequency.set(word, (frequency.get(word) ?? 0) + 1);
      }
    }
    await ctx.progress(paths.length, paths.length, "done");

    const sum = (key: "lines" | "words" | "bytes") => counts.reduce((total, file) => total + file[key], 0);
    return {
      dir: root,
      files: counts.length,
      lines: sum("lines"),
      words: sum("words"),
      bytes: sum("bytes"),
      skipped,
      topFiles: [...counts].sort((a, b) => b.words - a.words || a.path.localeCompare(b.path)).slice(0, 5),
      topWords: [...frequency]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, 10)
        .map(([word, count]) => ({ word, count })),
    };
  },
});

/**
 * The `files` plugin: `files.wordCount` and the stop-word list it shares. A placeholder main job
 * until the data-conversion plugin lands.
 *
 * @example
 * ```ts
 * import { defineConfig } from "conveyor";
 * import { files } from "./word-count.js";
 *
 * export default defineConfig({ plugins: [files] });
 * ```
 */
export const files = definePlugin({ name: "files", tasks: [wordCount], resources: [stopWords] });
