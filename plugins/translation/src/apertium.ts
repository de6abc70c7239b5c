import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger, ResourceContext } from "@conveyor/core";
import {
  defineEngine,
  type EngineDefinition,
  type LanguagePair,
  type TranslateOptions,
  type TranslationEngine,
} from "./engine.js";
import { EngineUnavailableError, TranslationEngineError, UnsupportedLanguageError } from "./errors.js";
import { fromApertium, splitCode, toIso3 } from "./languages.js";

const run = promisify(execFile);

/**
 * Options of {@link apertium}. Defaults are applied once, when the engine is defined.
 *
 * @example
 * ```ts
 * import type { ApertiumOptions } from "@conveyor/plugin-translation";
 * const options: ApertiumOptions = { markUnknown: true, stallTimeoutMs: 10_000 };
 * ```
 */
export interface ApertiumOptions {
  /**
   * Keep Apertium's marks in the output: `*word` for an unknown source word, `#word` for a word
   * it could not generate, `@word` for a gap in the bilingual dictionary. Off, they are removed
   * (the words stay).
   * @defaultValue false
   */
  markUnknown?: boolean;
  /** Folder of the installed `<pair>.mode` files. @defaultValue `"/usr/share/apertium/modes"` */
  modesDir?: string;
  /**
   * Extra or overriding pairs: the codes jobs use → an installed Apertium mode, e.g.
   * `[{ from: "en", to: "es", mode: "eng-spa" }]`. Usually not needed: ISO codes map to modes by
   * themselves.
   * @defaultValue `[]`
   */
  modes?: readonly { from: string; to: string; mode: string }[];
  /**
   * A pipeline that answers nothing for this long while texts are waiting is killed, the waiting
   * texts are rejected (retryable) and the next text starts a fresh one.
   * @defaultValue 30000
   */
  stallTimeoutMs?: number;
  /**
   * The sentence each new pipeline translates before it takes work; an empty answer fails the
   * load with a clear error instead of failing every job. `false` skips the check.
   * @defaultValue `"Hello."`
   */
  healthCheck?: string | false;
}

const DEFAULTS: Required<ApertiumOptions> = {
  markUnknown: false,
  modesDir: "/usr/share/apertium/modes",
  modes: [],
  stallTimeoutMs: 30_000,
  healthCheck: "Hello.",
};

const INSTALL_HINT = "Install a pair, e.g. apt-get install apertium-eng-spa (gives en→es and es→en)";
/** Mode names of translation pairs; debug modes (`eng-spa-tagger`, …) have more parts. */
const PAIR_MODE = /^([a-z]{2,3}(?:_[A-Za-z]+)?)-([a-z]{2,3}(?:_[A-Za-z]+)?)$/;

/** Apertium's stream format reserves these; user text gets them backslash-escaped. */
const RESERVED = /[\^$@/<>[\]\\{}]/g;

/** User text → one null-flush segment: `\0` removed, reserved characters escaped, a blank before `\0`. */
export function encodeSegment(text: string): string {
  // Without a blank before the \0 the last stage never answers and the segment merges with the next.
  return `${text.replace(/\0/g, "").replace(RESERVED, "\\$&")}[]\0`;
}

const WORD = /[\p{L}\p{N}]/u;

/**
 * One answer of the pipeline → plain text: superblanks (`[…]`, `[[…]]`) removed, escapes undone,
 * marks removed unless kept. User `@` is escaped on the way in, so an unescaped `@` before a word
 * is a mark; `#` and `*` come back unescaped either way, so they are only taken for marks when the
 * source had none.
 */
export function decodeSegment(answer: string, source: string, keepMarks: boolean): string {
  const marks = keepMarks ? "" : `@${source.includes("#") ? "" : "#"}${source.includes("*") ? "" : "*"}`;
  let out = "";
  let depth = 0;
  for (let i = 0; i < answer.length; i++) {
    const char = answer[i] as string;
    if (char === "\\") {
      if (depth === 0 && i + 1 < answer.length) out += answer[i + 1];
      i++;
    } else if (char === "[") depth++;
    else if (char === "]" && depth > 0) depth--;
    else if (depth > 0) continue;
    else if (
      marks.includes(char) &&
      WORD.test(answer[i + 1] ?? "") &&
      !WORD.test(out[out.length - 1] ?? "")
    ) {
    } else out += char;
  }
  return out;
}

interface Waiting {
  source: string;
  resolve(text: string): void;
  reject(error: unknown): void;
  /** Set when the caller gave up (aborted): the answer is read, to keep the order, and dropped. */
  abandoned: boolean;
}

/**
 * One long-lived null-flush pipeline for one mode: every stage runs with `-z`, each text is one
 * `\0`-terminated segment, answers come back in order (FIFO).
 */
class Pipeline {
  readonly started = performance.now();
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Waiting[] = [];
  private buffer = "";
  private stderr = "";
  private stallTimer: NodeJS.Timeout | undefined;
  private failure: TranslationEngineError | undefined;

  constructor(
    readonly mode: string,
    script: string,
    private readonly keepMarks: boolean,
    private readonly stallTimeoutMs: number,
    private readonly log: Logger,
    private readonly onGone: (pipeline: Pipeline) => void,
  ) {
    // $1 is the generator's flag (-g keeps unknown-word marks, -n drops them); $2, the tagger's
    // extra flag, stays empty as in the apertium wrapper. detached: one process group, so close()
    // stops all 13 stages at once.
    this.child = spawn("bash", ["-c", script, `apertium-${mode}`, keepMarks ? "-g" : "-n", ""], {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (data: string) => this.onData(data));
    this.child.stderr.on("data", (data: string) => {
      this.stderr = (this.stderr + data).slice(-2_000);
    });
    // A write after the pipeline died raises EPIPE here; the exit handler rejects the texts.
    this.child.stdin.on("error", () => {});
    this.child.on("error", (error) => this.fail(`could not start: ${error.message}`, error));
    this.child.on("exit", (code, signal) =>
      this.fail(
        `the ${this.mode} pipeline exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim()}` : ""}`,
      ),
    );
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  get pending(): number {
    return this.waiting.length;
  }

  /**
   * Sends every text as one segment, in one write, and resolves with the answers in order. One
   * abort listener per call: aborting abandons the call's texts (their answers are read and
   * dropped, so later answers stay in order).
   */
  translate(texts: readonly string[], signal: AbortSignal | undefined): Promise<string[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<string[]>((resolve, reject) => {
      const answers: string[] = new Array(texts.length);
      let left = texts.length;
      let settled = false;
      const entries: Waiting[] = [];
      const finish = (error: unknown, value?: string[]) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          for (const entry of entries) entry.abandoned = true;
          reject(error);
        } else resolve(value as string[]);
      };
      const onAbort = () => finish(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      let payload = "";
      texts.forEach((text, index) => {
        entries.push({
          source: text,
          abandoned: false,
          resolve: (answer) => {
            answers[index] = answer;
            if (--left === 0) finish(undefined, answers);
          },
          reject: (error) => finish(error),
        });
        payload += encodeSegment(text);
      });
      const wasIdle = this.waiting.length === 0;
      for (const entry of entries) this.waiting.push(entry);
      if (wasIdle) this.armStallTimer();
      if (texts.length === 0) finish(undefined, answers);
      else this.child.stdin.write(payload);
    });
  }

  private onData(data: string): void {
    this.buffer += data;
    let end = this.buffer.indexOf("\0");
    while (end !== -1) {
      const answer = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      const entry = this.waiting.shift();
      if (!entry) {
        this.fail(`the ${this.mode} pipeline answered a text that was never sent`);
        return;
      }
      if (!entry.abandoned) this.settle(entry, answer);
      if (this.failure) return;
      end = this.buffer.indexOf("\0");
    }
    this.armStallTimer();
  }

  private settle(entry: Waiting, answer: string): void {
    const text = decodeSegment(answer, entry.source, this.keepMarks).trim();
    if (text === "" && entry.source.trim() !== "") {
      // Never a translation: the framing broke. Restart rather than shift every later answer.
      const error = new TranslationEngineError(
        "apertium",
        `the ${this.mode} pipeline answered an empty text for "${entry.source.slice(0, 80)}"; the pipeline is restarted. Try again`,
        { details: { mode: this.mode } },
      );
      entry.reject(error);
      this.fail("it answered an empty text", undefined, error);
      return;
    }
    entry.resolve(text);
  }

  private armStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (this.waiting.length === 0 || this.failure) return;
    this.stallTimer = setTimeout(
      () =>
        this.fail(
          `the ${this.mode} pipeline answered nothing for ${this.stallTimeoutMs} ms with ${this.waiting.length} texts waiting; it is restarted`,
        ),
      this.stallTimeoutMs,
    );
    this.stallTimer.unref();
  }

  /** Marks the pipeline dead, rejects every waiting text (retryable) and stops the processes. */
  private fail(why: string, cause?: unknown, error?: TranslationEngineError): void {
    if (this.failure) return;
    this.failure =
      error ??
      new TranslationEngineError("apertium", `${why}. Try again; the next text starts a fresh pipeline`, {
        cause,
        details: { mode: this.mode },
      });
    clearTimeout(this.stallTimer);
    this.log.warn("apertium pipeline stopped", { mode: this.mode, reason: why });
    for (const entry of this.waiting.splice(0)) if (!entry.abandoned) entry.reject(this.failure);
    this.kill();
    this.onGone(this);
  }

  private kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined)
      return;
    try {
      process.kill(-this.child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }

  /** Ends the input so every stage exits; kills the group if it does not within a second. */
  async close(): Promise<void> {
    const closing = new TranslationEngineError("apertium", "the engine was closed", { retryable: false });
    if (!this.failure) this.failure = closing;
    clearTimeout(this.stallTimer);
    for (const entry of this.waiting.splice(0)) if (!entry.abandoned) entry.reject(closing);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), 1_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * A loaded Apertium engine: one long-lived pipeline per mode, started on the first text for that
 * pair and shared by every job of the worker. `stats()` says how many pipelines were started.
 */
export interface ApertiumEngine extends TranslationEngine {
  /** Pipelines started so far (restarts included), and those running now by mode. */
  stats(): { started: number; running: string[] };
}

/**
 * What {@link apertium} returns: an engine definition whose `load` gives an {@link ApertiumEngine}.
 *
 * @example
 * ```ts
 * import { type ApertiumDefinition, apertium } from "@conveyor/plugin-translation";
 * const definition: ApertiumDefinition = apertium();
 * const engine = await definition.load();
 * console.log(engine.stats().started); // 0: pipelines start on the first text of a pair
 * await engine.close();
 * ```
 */
export interface ApertiumDefinition extends EngineDefinition {
  /** Loads the engine; `context` defaults to a silent logger and a signal that never aborts. */
  load(context?: ResourceContext): Promise<ApertiumEngine>;
}

async function installedModes(modesDir: string): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(modesDir);
  } catch (cause) {
    throw new EngineUnavailableError("apertium", `no modes folder at ${modesDir}. ${INSTALL_HINT}`, {
      cause,
      details: { modesDir },
    });
  }
  return files
    .filter((file) => file.endsWith(".mode"))
    .map((file) => file.slice(0, -".mode".length))
    .filter((mode) => PAIR_MODE.test(mode))
    .sort();
}

type ExtraModes = typeof DEFAULTS.modes;

function pairsOf(modes: readonly string[], extra: ExtraModes): LanguagePair[] {
  const pairs = modes.map((mode) => {
    const [, from = "", to = ""] = PAIR_MODE.exec(mode) ?? [];
    return { from: fromApertium(from), to: fromApertium(to) };
  });
  for (const { from, to } of extra) pairs.push({ from, to });
  return pairs;
}

/** The mode for a pair: an explicit mapping, then `<from3>-<to3>[_<region>]` among the installed modes. */
function modeFor(from: string, to: string, modes: readonly string[], extra: ExtraModes): string | undefined {
  const explicit = extra.find((pair) => pair.from === from && pair.to === to);
  if (explicit) return explicit.mode;
  const source = splitCode(from);
  const target = splitCode(to);
  const from3 = toIso3(source.base);
  const to3 = toIso3(target.base);
  const candidates = [
    ...(source.region && target.region ? [`${from3}_${source.region}-${to3}_${target.region}`] : []),
    ...(target.region ? [`${from3}-${to3}_${target.region}`] : []),
    ...(source.region ? [`${from3}_${source.region}-${to3}`] : []),
    `${from3}-${to3}`,
  ];
  return candidates.find((mode) => modes.includes(mode));
}

async function loadApertium(options: typeof DEFAULTS, context: ResourceContext): Promise<ApertiumEngine> {
  const modes = await installedModes(options.modesDir);
  if (modes.length === 0 && options.modes.length === 0) {
    throw new EngineUnavailableError(
      "apertium",
      `no language pair is installed in ${options.modesDir}. ${INSTALL_HINT}`,
    );
  }
  try {
    await run("apertium-wblank-mode", ["-h"]).catch((error: NodeJS.ErrnoException & { code?: unknown }) => {
      if (error.code === "ENOENT") throw error;
    });
  } catch (cause) {
    throw new EngineUnavailableError("apertium", `apertium-wblank-mode is not on PATH. ${INSTALL_HINT}`, {
      cause,
    });
  }
  const log = context.log;
  const pipelines = new Map<string, Promise<Pipeline>>();
  let started = 0;
  let closed = false;

  async function start(mode: string): Promise<Pipeline> {
    const file = join(options.modesDir, `${mode}.mode`);
    let script: string;
    try {
      script = (await run("apertium-wblank-mode", ["-z", file])).stdout;
    } catch (cause) {
      throw new EngineUnavailableError("apertium", `cannot read the mode ${file}. ${INSTALL_HINT}`, {
        cause,
      });
    }
    const pipeline = new Pipeline(mode, script, options.markUnknown, options.stallTimeoutMs, log, (gone) => {
      if (!closed) {
        void pipelines.get(mode)?.then(
          (current) => {
            if (current === gone) pipelines.delete(mode);
          },
          () => {},
        );
      }
    });
    started++;
    log.debug("apertium pipeline started", { mode });
    if (options.healthCheck !== false) {
      const [answer] = await pipeline.translate([options.healthCheck], undefined).catch(async (error) => {
        await pipeline.close();
        throw new EngineUnavailableError(
          "apertium",
          `the ${mode} pipeline failed its health check (translating "${options.healthCheck}"): ${(error as Error).message} Check the installation: echo "${options.healthCheck}" | apertium ${mode}`,
          { cause: error },
        );
      });
      log.debug("apertium pipeline ready", {
        mode,
        check: answer,
        ms: Math.round(performance.now() - pipeline.started),
      });
    }
    return pipeline;
  }

  function pipelineFor(mode: string): Promise<Pipeline> {
    let pipeline = pipelines.get(mode);
    if (!pipeline) {
      pipeline = start(mode);
      pipelines.set(mode, pipeline);
      // A failed start is forgotten so the next text tries again.
      pipeline.catch(() => {
        if (pipelines.get(mode) === pipeline) pipelines.delete(mode);
      });
    }
    return pipeline;
  }

  return {
    name: "apertium",
    async translate(texts: readonly string[], { from, to, signal }: TranslateOptions): Promise<string[]> {
      if (closed) throw new TranslationEngineError("apertium", "the engine was closed", { retryable: false });
      const mode = modeFor(from, to, modes, options.modes);
      if (!mode) {
        throw new UnsupportedLanguageError("apertium", from, to, pairsOf(modes, options.modes), INSTALL_HINT);
      }
      signal?.throwIfAborted();
      const pipeline = await pipelineFor(mode);
      const answers = [...texts];
      // Nothing to translate without a letter or digit, and Apertium drops some symbols entirely
      // ("~" alone comes back empty): such texts are answered as they are.
      const indexes = texts.flatMap((text, index) => (WORD.test(text) ? [index] : []));
      const translated = await pipeline.translate(
        indexes.map((index) => texts[index] as string),
        signal,
      );
      indexes.forEach((index, k) => {
        answers[index] = translated[k] as string;
      });
      return answers;
    },
    async languages() {
      return pairsOf(modes, options.modes);
    },
    stats() {
      return { started, running: [...pipelines.keys()] };
    },
    async close() {
      closed = true;
      const all = [...pipelines.values()];
      pipelines.clear();
      await Promise.all(all.map(async (pipeline) => (await pipeline.catch(() => undefined))?.close()));
    },
  };
}

/**
 * The Apertium engine: rule-based machine translation by Debian's `apertium` and a pair package
 * (`apt-get install apertium-eng-spa` gives `en→es` and `es→en`). Local, free, no network.
 *
 * Each pair runs as one long-lived pipeline per worker process (the 13 stages that
 * `apertium-wblank-mode -z` prints, in null-flush mode), started on the first text for that pair
 * and fed every text as one `\0`-terminated segment: a warm pipeline answers in about 2 ms a
 * sentence where spawning `apertium` costs about 200 ms. Answers are read in order; an empty
 * answer for a non-blank text is never accepted (the pipeline is restarted and the text rejected
 * as retryable), and so is a pipeline that exits or stalls. ISO codes map to Apertium's modes
 * (`en`/`es` → `eng-spa`, `es`/`en-US` → `spa-eng_US`).
 *
 * @example
 * ```ts
 * import { apertium, translation } from "@conveyor/plugin-translation";
 *
 * export const plugin = translation({ engines: [apertium({ markUnknown: false })] });
 * ```
 */
export function apertium(options: ApertiumOptions = {}): ApertiumDefinition {
  const settings = { ...DEFAULTS, ...options } satisfies Required<ApertiumOptions>;
  if (!Number.isFinite(settings.stallTimeoutMs) || settings.stallTimeoutMs <= 0) {
    throw new TypeError(
      `[conveyor:translation] apertium({ stallTimeoutMs }) must be a positive number of ms, got ${settings.stallTimeoutMs}.`,
    );
  }
  return defineEngine({
    name: "apertium",
    cacheId: settings.markUnknown ? "apertium+marks" : "apertium",
    load: (context) => loadApertium(settings, context),
  }) as ApertiumDefinition;
}
