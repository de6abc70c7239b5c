import {
  defineResource,
  type RateLimiter,
  type Resource,
  type ResourceContext,
  silentLogger,
} from "@conveyor/core";

/**
 * What {@link TranslationEngine.translate} is given next to the texts.
 *
 * @example
 * ```ts
 * import type { TranslateOptions } from "@conveyor/plugin-translation";
 * const options: TranslateOptions = { from: "en", to: "es", signal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface TranslateOptions {
  /** Source language: an ISO 639-1 code (`"en"`), optionally with a region (`"en-US"`); engines map it to their own. */
  from: string;
  /** Target language, same form as `from`. */
  to: string;
  /** Aborts the call: pending work is abandoned and the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Where an HTTP engine consumes its quota points, shared by every process on the same backend.
   * The plugin's tasks pass the platform's (`ctx.rateLimiter`).
   * @defaultValue the engine's own `rateLimit.limiter`, else no limiting
   */
  rateLimiter?: RateLimiter | undefined;
}

/**
 * A language pair an engine translates. `"*"` on a side means any language (an LLM).
 *
 * @example
 * ```ts
 * import type { LanguagePair } from "@conveyor/plugin-translation";
 * const pair: LanguagePair = { from: "en", to: "es" };
 * ```
 */
export interface LanguagePair {
  from: string;
  to: string;
}

/**
 * The translation engine contract: a loaded engine, shared by every job of a worker process.
 *
 * Guarantees: `translate` answers one text per input text, in order, and never answers an empty
 * text for a non-blank input (it rejects instead); it is safe to call concurrently.
 *
 * @example
 * ```ts
 * import type { TranslationEngine } from "@conveyor/plugin-translation";
 *
 * export async function hello(engine: TranslationEngine): Promise<string | undefined> {
 *   const [text] = await engine.translate(["Hello."], { from: "en", to: "es" });
 *   return text;
 * }
 * ```
 */
export interface TranslationEngine {
  /** The engine's name, e.g. `"apertium"`. */
  readonly name: string;
  /** Translates `texts` from `options.from` to `options.to`; one answer per text, in order. */
  translate(texts: readonly string[], options: TranslateOptions): Promise<string[]>;
  /** The pairs the engine can translate, as ISO codes where it can tell. */
  languages(options?: { signal?: AbortSignal }): Promise<LanguagePair[]>;
  /** Stops processes and releases connections; the engine is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * An engine as the plugin registers it: a worker resource that loads a {@link TranslationEngine}
 * once per worker process (never in a process that only enqueues), plus the names the tasks need
 * before loading it. Made by the engine factories ({@link apertium}, {@link libreTranslate},
 * {@link deepl}, {@link openAiChat}) or by {@link defineEngine}.
 *
 * @example
 * ```ts
 * import { apertium, type EngineDefinition } from "@conveyor/plugin-translation";
 *
 * const definition: EngineDefinition = apertium();
 * const engine = await definition.load();
 * console.log(await engine.translate(["The cat."], { from: "en", to: "es" }));
 * await engine.close();
 * ```
 */
export interface EngineDefinition extends Resource<TranslationEngine> {
  /** The name jobs select the engine by (`engine: "apertium"`). */
  readonly engine: string;
  /**
   * Identifies the engine and every option that changes its output (a model, a mark style) in
   * cache keys, so answers of differently configured engines never mix.
   */
  readonly cacheId: string;
  /** Loads the engine; `context` defaults to a silent logger and a signal that never aborts. */
  load(context?: ResourceContext): Promise<TranslationEngine>;
}

/**
 * Options of {@link defineEngine}.
 *
 * @example
 * ```ts
 * import type { DefineEngineOptions } from "@conveyor/plugin-translation";
 * const options: DefineEngineOptions = {
 *   name: "upper",
 *   load: () => ({ name: "upper", translate: async (texts) => texts.map((t) => t.toUpperCase()), languages: async () => [{ from: "*", to: "*" }], close: async () => {} }),
 * };
 * ```
 */
export interface DefineEngineOptions {
  /** The name jobs select the engine by; letters, digits, `_` and `-`. */
  name: string;
  /** What changes the output, for cache keys. @defaultValue the name */
  cacheId?: string;
  /** Creates the engine; called once per worker process. */
  load(context: ResourceContext): Promise<TranslationEngine> | TranslationEngine;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Defines a custom engine for the plugin: a resource loaded once per worker process and closed
 * when the worker closes.
 *
 * @example
 * ```ts
 * import { defineEngine, translation } from "@conveyor/plugin-translation";
 *
 * const shout = defineEngine({
 *   name: "shout",
 *   load: () => ({
 *     name: "shout",
 *     translate: async (texts) => texts.map((text) => text.toUpperCase()),
 *     languages: async () => [{ from: "*", to: "*" }],
 *     close: async () => {},
 *   }),
 * });
 * export const plugin = translation({ engines: [shout] });
 * ```
 */
export function defineEngine(options: DefineEngineOptions): EngineDefinition {
  if (!NAME.test(options.name)) {
    throw new TypeError(
      `[conveyor:translation] engine name "${options.name}" is invalid. Use letters, digits, "_" or "-".`,
    );
  }
  const resource = defineResource<TranslationEngine>({
    // The cache id names every option that changes the engine, so two differently set engines never share a load.
    name: `translation.engine.${options.cacheId ?? options.name}`,
    async load(context) {
      const engine = await options.load(context);
      context.log.debug("translation engine loaded", { engine: options.name });
      return engine;
    },
    dispose: (engine) => engine.close(),
  });
  return Object.freeze({
    name: resource.name,
    engine: options.name,
    cacheId: options.cacheId ?? options.name,
    async load(context?: ResourceContext) {
      return resource.load(context ?? { log: silentLogger, signal: new AbortController().signal });
    },
    dispose: (engine: TranslationEngine) => engine.close(),
  });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
