import type { ResourceContext } from "@conveyor/core";
import { defineEngine, type EngineDefinition, type LanguagePair, type TranslationEngine } from "./engine.js";
import { EngineUnavailableError, TranslationEngineError } from "./errors.js";
import {
  charactersOf,
  type HttpEngineOptions,
  type HttpSettings,
  httpSettings,
  inChunks,
  requestJson,
} from "./http.js";
import { splitCode } from "./languages.js";

/**
 * Options of {@link libreTranslate}.
 *
 * @example
 * ```ts
 * import type { LibreTranslateOptions } from "@conveyor/plugin-translation";
 * const options: LibreTranslateOptions = { url: "http://localhost:5000", batchSize: 25 };
 * ```
 */
export interface LibreTranslateOptions extends HttpEngineOptions {
  /** The server, e.g. `"http://localhost:5000"`. @defaultValue `process.env.LIBRETRANSLATE_URL` */
  url?: string;
  /** The API key, when the server requires one. @defaultValue `process.env.LIBRETRANSLATE_API_KEY` */
  apiKey?: string;
  /** Texts per request (`q` as an array). @defaultValue 50 */
  batchSize?: number;
  /** Characters per request, about. @defaultValue 20000 */
  maxCharsPerRequest?: number;
}

/** LibreTranslate takes bare codes, with a script or region only where it has one (`zh-Hant`, `pt-BR`). */
const codeOf = (code: string): string => {
  const { base, region } = splitCode(code);
  return region ? `${base}-${code.split(/[-_]/)[1]}` : base;
};

function message(status: number, body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string")
      return `${parsed.error}${status === 403 ? " (check the API key)" : ""}`;
  } catch {
    // Not JSON: the caller shows the raw body.
  }
  return undefined;
}

function load(options: LibreTranslateOptions, settings: HttpSettings): TranslationEngine {
  const url = (options.url ?? process.env.LIBRETRANSLATE_URL)?.replace(/\/+$/, "");
  if (!url) {
    throw new EngineUnavailableError(
      "libretranslate",
      "no server URL. Set LIBRETRANSLATE_URL in the worker's environment, or pass url",
    );
  }
  const key = options.apiKey ?? process.env.LIBRETRANSLATE_API_KEY;
  const limits = { maxTexts: options.batchSize ?? 50, maxChars: options.maxCharsPerRequest ?? 20_000 };
  return {
    name: "libretranslate",
    translate(texts, { from, to, signal, rateLimiter }) {
      return inChunks("libretranslate", texts, limits, async (chunk) => {
        const answer = (await requestJson("libretranslate", settings, {
          url: `${url}/translate`,
          body: {
            q: chunk,
            source: codeOf(from),
            target: codeOf(to),
            format: "text",
            ...(key ? { api_key: key } : {}),
          },
          cost: settings.rateLimit?.per === "character" ? charactersOf(chunk) : 1,
          signal,
          rateLimiter,
          describe: message,
        })) as { translatedText?: unknown };
        if (!Array.isArray(answer.translatedText)) {
          throw new TranslationEngineError("libretranslate", "the answer has no translatedText array", {
            details: { answer: JSON.stringify(answer).slice(0, 300) },
          });
        }
        return answer.translatedText;
      });
    },
    async languages({ signal } = {}): Promise<LanguagePair[]> {
      const list = (await requestJson("libretranslate", settings, {
        url: `${url}/languages`,
        cost: settings.rateLimit?.per === "character" ? 0 : 1,
        signal,
      })) as { code: string; targets?: string[] }[];
      return list.flatMap((language) =>
        (language.targets ?? [])
          .filter((target) => target !== language.code)
          .map((to) => ({ from: language.code, to })),
      );
    },
    async close() {},
  };
}

/**
 * The LibreTranslate engine: `POST <url>/translate` with `q` (an array of texts), `source`,
 * `target`, `format: "text"` and `api_key`, answered by `translatedText` (an array);
 * `GET <url>/languages` for the pairs. Texts go in batches; 429 and 5xx are retried honouring
 * `Retry-After`; `rateLimit` keeps the workers under the server's quota.
 *
 * @example
 * ```ts
 * import { libreTranslate, translation } from "@conveyor/plugin-translation";
 *
 * export const plugin = translation({
 *   engines: [libreTranslate({ url: "http://localhost:5000", rateLimit: { points: 30, durationMs: 60_000 } })],
 * });
 * ```
 */
export function libreTranslate(options: LibreTranslateOptions = {}): EngineDefinition {
  const settings = httpSettings("libreTranslate", options);
  return defineEngine({
    name: "libretranslate",
    load: (_context: ResourceContext) => load(options, settings),
  });
}
