import { resolve } from "node:path";
import { type BackoffOptions, ConfigError, definePlugin, type Plugin } from "@conveyor/core";
import { apertium } from "./apertium.js";
import type { EngineDefinition } from "./engine.js";
import { type TaskSettings, translateBatchTask, translateFileTask, translateTask } from "./tasks.js";

/**
 * Options of {@link translation}. Defaults are applied once, when the plugin is created.
 *
 * @example
 * ```ts
 * import { apertium, deepl, type TranslationOptions } from "@conveyor/plugin-translation";
 * const options: TranslationOptions = { engines: [apertium(), deepl()], defaultEngine: "apertium", roots: ["./data"] };
 * ```
 */
export interface TranslationOptions {
  /** The engines jobs may pick by name; each is loaded once per worker, only when a job needs it. @defaultValue `[apertium()]` */
  engines?: readonly EngineDefinition[];
  /** The engine of jobs that name none. @defaultValue the first engine */
  defaultEngine?: string;
  /**
   * Folders every file of `translation.translateFile` must be in (after `..` and symlinks are
   * resolved); relative paths resolve against the first one.
   * @defaultValue `[process.cwd()]`
   */
  roots?: readonly string[];
  /** Largest input file accepted, in bytes. @defaultValue no limit */
  maxInputBytes?: number;
  /** Cache translations in the platform cache, per engine, pair and text. @defaultValue true */
  cache?: boolean;
  /** How long a cached translation lives, in ms. @defaultValue 30 days */
  cacheTtlMs?: number;
  /** Texts per engine call, and rows per step of a file (read, translate, write, progress). @defaultValue 200 */
  chunkSize?: number;
  /** The queue the tasks' jobs go to. @defaultValue the platform's default queue */
  queue?: string;
  /**
   * Extra attempts of a job after a retryable failure (a pipeline that died, a 429 or 5xx the
   * engine's own retries did not get past). Translations already made are in the cache, so a
   * retried file or batch only pays for the rest. Errors marked not retryable never retry.
   * @defaultValue 2
   */
  retries?: number;
  /** Delay between attempts. @defaultValue `{ type: "exponential", delayMs: 1000, jitter: 0.5 }` */
  backoff?: BackoffOptions;
}

const DEFAULTS = {
  retries: 2,
  backoff: { type: "exponential", delayMs: 1_000, jitter: 0.5 } as BackoffOptions,
  cache: true,
  cacheTtlMs: 30 * 86_400_000,
  chunkSize: 200,
} satisfies Partial<TranslationOptions>;

/**
 * The translation plugin: registers `translation.translate` (one text),
 * `translation.translateBatch` (many texts, progress per chunk, cache hits and misses in the
 * result) and `translation.translateFile` (CSV/TSV columns or JSON/NDJSON fields, streamed,
 * progress in rows), and one resource per engine, loaded once per worker process and never in a
 * process that only enqueues. Translations are cached per engine, pair and normalised text in the
 * platform cache, so a second run of the same texts never reaches the engine. Depends on
 * `@conveyor/core` only; runs on any adapter.
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { apertium, type TranslateBatchResult, translation } from "@conveyor/plugin-translation";
 *
 * const conveyor = await createConveyor({ plugins: [translation({ engines: [apertium()] })], logger: false });
 * const worker = conveyor.worker();
 * const job = await conveyor.enqueue<TranslateBatchResult>("translation.translateBatch", {
 *   texts: ["The cat is on the table.", "Good morning."],
 *   from: "en",
 *   to: "es",
 * });
 * console.log((await job.result()).texts);
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export function translation(options: TranslationOptions = {}): Plugin {
  const settings = { ...DEFAULTS, ...options };
  const engines = options.engines?.length ? options.engines : [apertium()];
  const byName = new Map<string, EngineDefinition>();
  for (const engine of engines) {
    if (byName.has(engine.engine)) {
      throw new ConfigError(`the engine "${engine.engine}" is given twice. Give each engine once.`, {
        scope: "translation",
      });
    }
    byName.set(engine.engine, engine);
  }
  const defaultEngine = options.defaultEngine ?? (engines[0] as EngineDefinition).engine;
  if (!byName.has(defaultEngine)) {
    throw new ConfigError(
      `the default engine "${defaultEngine}" is not among the engines (${[...byName.keys()].join(", ")}). Add it to engines or pick one of them.`,
      { scope: "translation" },
    );
  }
  if (!Number.isInteger(settings.chunkSize) || settings.chunkSize < 1) {
    throw new ConfigError(`chunkSize must be a positive whole number, got ${settings.chunkSize}.`, {
      scope: "translation",
    });
  }
  const shared: TaskSettings = {
    engines: byName,
    defaultEngine,
    roots: (options.roots?.length ? options.roots : [process.cwd()]).map((root) => resolve(root)),
    maxInputBytes: options.maxInputBytes,
    cache: settings.cache,
    cacheTtlMs: settings.cacheTtlMs,
    chunkSize: settings.chunkSize,
    queue: options.queue,
    retries: settings.retries,
    backoff: settings.backoff,
  };
  return definePlugin({
    name: "translation",
    tasks: [translateTask(shared), translateBatchTask(shared), translateFileTask(shared)],
    resources: engines,
  });
}
