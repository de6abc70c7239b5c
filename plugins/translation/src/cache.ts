import { hash } from "node:crypto";
import type { Cache, TaskContext } from "@conveyor/core";
import type { EngineDefinition } from "./engine.js";

/**
 * The form of a text that cache keys hash and engines translate: Unicode NFC, line breaks as
 * `\n`, runs of spaces and tabs as one space, no spaces around line breaks, trimmed. Texts that
 * differ only in that share one translation.
 *
 * @example
 * ```ts
 * import { normalizeText } from "@conveyor/plugin-translation";
 * console.log(normalizeText("  The  cat\r\n is here. ")); // "The cat\nis here."
 * ```
 */
export function normalizeText(text: string): string {
  return text
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .replace(/[^\S\n]+/g, " ")
    .replace(/ ?\n ?/g, "\n")
    .trim();
}

/**
 * The cache key of one translation: engine (with the options that change its output), pair and
 * the SHA-256 of the normalised text. Keys never hold the text itself.
 *
 * @example
 * ```ts
 * import { translationCacheKey } from "@conveyor/plugin-translation";
 * console.log(translationCacheKey("apertium", "en", "es", "Hello.")); // "translation:apertium:en:es:185f8db3…"
 * ```
 */
export function translationCacheKey(cacheId: string, from: string, to: string, text: string): string {
  return keyOf(cacheId, from, to, normalizeText(text));
}

/** The key of an already normalised text (the one-shot `hash` is faster than `createHash` per text). */
function keyOf(cacheId: string, from: string, to: string, normalized: string): string {
  return `translation:${cacheId}:${from}:${to}:${hash("sha256", normalized, "hex")}`;
}

/** What {@link translateTexts} needs. */
export interface TranslateTextsOptions {
  engine: EngineDefinition;
  from: string;
  to: string;
  ctx: TaskContext;
  /** Read and write the platform cache. */
  useCache: boolean;
  cacheTtlMs: number | undefined;
  /** Texts per engine call; progress is reported after each. */
  chunkSize: number;
  /** Called after the cache lookup and after each chunk with texts done so far. */
  onProgress?(done: number, hits: number): Promise<void> | void;
}

/** Counts of one call: unique non-blank texts answered from the cache or by the engine. */
export interface CacheCounts {
  /** Unique non-blank texts answered from the cache. */
  hits: number;
  /** Unique non-blank texts the engine translated. */
  misses: number;
}

/**
 * Translates texts through the cache: each unique normalised text is looked up once, the misses
 * go to the engine in chunks (loading it only when there is a miss) and are written back after
 * every chunk, so a cancelled job keeps what it paid for. Leading and trailing whitespace of each
 * text is put back around its translation. A cache that fails is logged and skipped, never fatal.
 */
export async function translateTexts(
  texts: readonly string[],
  options: TranslateTextsOptions,
): Promise<{ texts: string[] } & CacheCounts> {
  const { ctx, engine } = options;
  const normalized = texts.map(normalizeText);
  const unique = [...new Set(normalized.filter((text) => text !== ""))];
  const translated = new Map<string, string>();
  const keys = unique.map((text) => keyOf(engine.cacheId, options.from, options.to, text));
  let hits = 0;
  if (options.useCache && unique.length > 0) {
    const cached = await getMany(ctx.cache, keys, ctx);
    cached.forEach((value, index) => {
      if (typeof value === "string" && value !== "") {
        translated.set(unique[index] as string, value);
        hits++;
      }
    });
  }
  await options.onProgress?.(countDone(normalized, translated), hits);

  const missing = unique
    .map((text, index) => ({ text, key: keys[index] as string }))
    .filter((item) => !translated.has(item.text));
  if (missing.length > 0) {
    const loaded = await ctx.resource(engine);
    for (let start = 0; start < missing.length; start += options.chunkSize) {
      ctx.signal.throwIfAborted();
      const chunk = missing.slice(start, start + options.chunkSize);
      const answers = await loaded.translate(
        chunk.map((item) => item.text),
        { from: options.from, to: options.to, signal: ctx.signal, rateLimiter: ctx.rateLimiter },
      );
      chunk.forEach((item, index) => {
        translated.set(item.text, (answers[index] as string).trim());
      });
      if (options.useCache) {
        await setMany(
          ctx.cache,
          chunk.map((item, index) => ({
            key: item.key,
            value: (answers[index] as string).trim(),
            ...(options.cacheTtlMs !== undefined ? { ttlMs: options.cacheTtlMs } : {}),
          })),
          ctx,
        );
      }
      await options.onProgress?.(countDone(normalized, translated), hits);
    }
  }

  return {
    texts: texts.map((text, index) => {
      const key = normalized[index] as string;
      if (key === "") return text;
      const leading = /^\s*/.exec(text)?.[0] ?? "";
      const trailing = /\s*$/.exec(text)?.[0] ?? "";
      return `${leading}${translated.get(key)}${trailing}`;
    }),
    hits,
    misses: missing.length,
  };
}

function countDone(normalized: readonly string[], translated: ReadonlyMap<string, string>): number {
  let done = 0;
  for (const text of normalized) if (text === "" || translated.has(text)) done++;
  return done;
}

async function getMany(cache: Cache, keys: readonly string[], ctx: TaskContext): Promise<unknown[]> {
  try {
    return await cache.getMany(keys);
  } catch (error) {
    ctx.log.warn("translation cache read failed; translating without it", { error: String(error) });
    return [];
  }
}

async function setMany(
  cache: Cache,
  entries: { key: string; value: string; ttlMs?: number }[],
  ctx: TaskContext,
): Promise<void> {
  try {
    await cache.setMany(entries);
  } catch (error) {
    ctx.log.warn("translation cache write failed; the translations are still returned", {
      error: String(error),
    });
  }
}
