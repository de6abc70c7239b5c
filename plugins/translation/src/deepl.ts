import type { ResourceContext } from "@conveyor/core";
import { defineEngine, type EngineDefinition, type LanguagePair, type TranslationEngine } from "./engine.js";
import { TranslationEngineError } from "./errors.js";
import {
  apiKey,
  charactersOf,
  type HttpEngineOptions,
  type HttpSettings,
  httpSettings,
  inChunks,
  requestJson,
} from "./http.js";
import { splitCode } from "./languages.js";

/**
 * Options of {@link deepl}.
 *
 * @example
 * ```ts
 * import type { DeepLOptions } from "@conveyor/plugin-translation";
 * const options: DeepLOptions = { formality: "prefer_less", rateLimit: { points: 500_000, durationMs: 30 * 86_400_000, per: "character" } };
 * ```
 */
export interface DeepLOptions extends HttpEngineOptions {
  /** The authentication key. @defaultValue `process.env.DEEPL_API_KEY`, else `process.env.DEEPL_AUTH_KEY` */
  apiKey?: string;
  /**
   * The API server. @defaultValue `"https://api-free.deepl.com"` for a free key (ending in `:fx`),
   * else `"https://api.deepl.com"`
   */
  url?: string;
  /** Formality of the translation, for target languages that have it. @defaultValue "default" */
  formality?: "default" | "more" | "less" | "prefer_more" | "prefer_less";
  /**
   * Target variant used when a job names only `en` or `pt` (DeepL needs `EN-US`/`EN-GB`,
   * `PT-PT`/`PT-BR`). @defaultValue `{ en: "EN-US", pt: "PT-PT" }`
   */
  variants?: Partial<Record<"en" | "pt", string>>;
}

// DeepL's documented limits per request: 50 texts, 128 KiB of body.
const LIMITS = { maxTexts: 50, maxChars: 100_000 };

function message(status: number, body: string): string | undefined {
  let text: string | undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === "string") text = parsed.message;
  } catch {
    // Not JSON.
  }
  if (status === 456)
    return `quota exceeded${text ? ` (${text})` : ""}; wait for the next billing period or raise the plan`;
  if (status === 403)
    return `${text ?? "forbidden"}; check DEEPL_API_KEY and that the URL matches the key (free keys end in :fx)`;
  return text;
}

function load(options: DeepLOptions, settings: HttpSettings): TranslationEngine {
  const key = apiKey("deepl", options.apiKey, ["DEEPL_API_KEY", "DEEPL_AUTH_KEY"]);
  const url = (
    options.url ?? (key.endsWith(":fx") ? "https://api-free.deepl.com" : "https://api.deepl.com")
  ).replace(/\/+$/, "");
  const variants = { en: "EN-US", pt: "PT-PT", ...options.variants };
  const headers = { authorization: `DeepL-Auth-Key ${key}` };
  const target = (code: string) => {
    const { base, region } = splitCode(code);
    if (region) return `${base.toUpperCase()}-${region}`;
    return base === "en" || base === "pt" ? variants[base].toUpperCase() : base.toUpperCase();
  };
  return {
    name: "deepl",
    translate(texts, { from, to, signal, rateLimiter }) {
      return inChunks("deepl", texts, LIMITS, async (chunk) => {
        const answer = (await requestJson("deepl", settings, {
          url: `${url}/v2/translate`,
          headers,
          body: {
            text: chunk,
            source_lang: splitCode(from).base.toUpperCase(),
            target_lang: target(to),
            ...(options.formality && options.formality !== "default" ? { formality: options.formality } : {}),
          },
          cost: settings.rateLimit?.per === "character" ? charactersOf(chunk) : 1,
          signal,
          rateLimiter,
          describe: message,
          fatal: [456],
        })) as { translations?: { text?: unknown }[] };
        if (!Array.isArray(answer.translations)) {
          throw new TranslationEngineError("deepl", "the answer has no translations array", {
            details: { answer: JSON.stringify(answer).slice(0, 300) },
          });
        }
        return answer.translations.map((item) => item?.text);
      });
    },
    async languages({ signal } = {}): Promise<LanguagePair[]> {
      const list = async (type: "source" | "target") =>
        (
          (await requestJson("deepl", settings, {
            url: `${url}/v2/languages?type=${type}`,
            headers,
            cost: settings.rateLimit?.per === "character" ? 0 : 1,
            signal,
            describe: message,
          })) as { language: string }[]
        ).map((item) =>
          item.language.toLowerCase().replace(/-(\w+)$/, (_, region: string) => `-${region.toUpperCase()}`),
        );
      const [sources, targets] = [await list("source"), await list("target")];
      return sources.flatMap((from) =>
        targets.filter((to) => splitCode(to).base !== from).map((to) => ({ from, to })),
      );
    },
    async close() {},
  };
}

/**
 * The DeepL engine (API v2): `POST /v2/translate` with `text` (up to 50 texts a request),
 * `source_lang`, `target_lang` and `formality`, authenticated by
 * `Authorization: DeepL-Auth-Key <key>`, answered by `translations[].text`; `GET /v2/languages`
 * for the pairs. The key comes from `DEEPL_API_KEY`; a free key (`…:fx`) goes to
 * api-free.deepl.com. 429 and 5xx are retried honouring `Retry-After`; 456 (quota exceeded) is
 * final. `rateLimit` with `per: "character"` keeps every worker under the plan's characters.
 *
 * @example
 * ```ts
 * import { deepl, translation } from "@conveyor/plugin-translation";
 *
 * export const plugin = translation({
 *   engines: [deepl({ formality: "prefer_less", rateLimit: { points: 10, durationMs: 1_000 } })],
 * });
 * ```
 */
export function deepl(options: DeepLOptions = {}): EngineDefinition {
  const settings = httpSettings("deepl", options);
  return defineEngine({
    name: "deepl",
    cacheId: `deepl${options.formality && options.formality !== "default" ? `+${options.formality}` : ""}`,
    load: (_context: ResourceContext) => load(options, settings),
  });
}
