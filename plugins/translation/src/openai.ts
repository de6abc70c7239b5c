import { createHash } from "node:crypto";
import type { ResourceContext } from "@conveyor/core";
import { defineEngine, type EngineDefinition, type LanguagePair, type TranslationEngine } from "./engine.js";
import { TranslationEngineError } from "./errors.js";
import {
  apiKey,
  type HttpEngineOptions,
  type HttpSettings,
  httpSettings,
  inChunks,
  requestJson,
} from "./http.js";

/**
 * Options of {@link openAiChat}.
 *
 * @example
 * ```ts
 * import type { OpenAiChatOptions } from "@conveyor/plugin-translation";
 * const options: OpenAiChatOptions = { baseUrl: "http://localhost:11434/v1", model: "llama3.1", batchSize: 10 };
 * ```
 */
export interface OpenAiChatOptions extends HttpEngineOptions {
  /**
   * The API root, ending in `/v1` (OpenAI, or any compatible server: vLLM, Ollama, LM Studio…).
   * @defaultValue `process.env.OPENAI_BASE_URL`, else `"https://api.openai.com/v1"`
   */
  baseUrl?: string;
  /**
   * The bearer key. Required for api.openai.com; sent to other servers only when set.
   * @defaultValue `process.env.OPENAI_API_KEY`
   */
  apiKey?: string;
  /** The model. @defaultValue `process.env.OPENAI_MODEL`, else `"gpt-4o-mini"` */
  model?: string;
  /**
   * Texts per request: sent as a JSON array, answered as a JSON object (`response_format:
   * json_object`). An answer that does not hold one string per text is retried text by text.
   * `1` sends every text on its own with a plain prompt.
   * @defaultValue 20
   */
  batchSize?: number;
  /** Sampling temperature. @defaultValue 0 */
  temperature?: number;
  /** Extra instructions appended to the system prompt (a glossary, a tone). @defaultValue none */
  instructions?: string;
}

const languageNames = new Intl.DisplayNames(["en"], { type: "language" });
const nameOf = (code: string): string => {
  try {
    const name = languageNames.of(code.replace("_", "-"));
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
};

interface ChatAnswer {
  choices?: { message?: { content?: unknown }; finish_reason?: string }[];
}

function contentOf(answer: ChatAnswer): string {
  const choice = answer.choices?.[0];
  if (typeof choice?.message?.content !== "string") {
    throw new TranslationEngineError("openai-chat", "the answer has no choices[0].message.content", {
      details: { answer: JSON.stringify(answer).slice(0, 300) },
    });
  }
  if (choice.finish_reason === "length") {
    throw new TranslationEngineError(
      "openai-chat",
      "the answer was cut at the token limit. Send smaller batches (batchSize)",
      {
        retryable: false,
      },
    );
  }
  return choice.message.content;
}

function message(_status: number, body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === "string") return parsed.error.message;
  } catch {
    // Not JSON.
  }
  return undefined;
}

function load(options: OpenAiChatOptions, settings: HttpSettings, model: string): TranslationEngine {
  const baseUrl = (options.baseUrl ?? process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(
    /\/+$/,
    "",
  );
  const key = baseUrl.startsWith("https://api.openai.com")
    ? apiKey("openai-chat", options.apiKey, ["OPENAI_API_KEY"])
    : (options.apiKey ?? process.env.OPENAI_API_KEY);
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const batchSize = options.batchSize ?? 20;
  const extra = options.instructions ? ` ${options.instructions}` : "";

  const chat = (
    messages: { role: "system" | "user"; content: string }[],
    json: boolean,
    signal: AbortSignal | undefined,
    rateLimiter: Parameters<TranslationEngine["translate"]>[1]["rateLimiter"],
    cost: number,
  ) =>
    requestJson("openai-chat", settings, {
      url: `${baseUrl}/chat/completions`,
      headers,
      body: {
        model,
        messages,
        temperature: options.temperature ?? 0,
        ...(json ? { response_format: { type: "json_object" } } : {}),
      },
      cost,
      signal,
      rateLimiter,
      describe: message,
    }) as Promise<ChatAnswer>;

  return {
    name: "openai-chat",
    translate(texts, { from, to, signal, rateLimiter }) {
      const cost = (chunk: string[]) =>
        settings.rateLimit?.per === "character" ? chunk.reduce((sum, text) => sum + text.length, 0) : 1;
      const one = async (text: string): Promise<string> => {
        const answer = await chat(
          [
            {
              role: "system",
              content: `You are a translation engine. Translate the user's text from ${nameOf(from)} to ${nameOf(to)}. Reply with the translation only, keeping line breaks, numbers and placeholders.${extra}`,
            },
            { role: "user", content: text },
          ],
          false,
          signal,
          rateLimiter,
          cost([text]),
        );
        return contentOf(answer).trim();
      };
      return inChunks("openai-chat", texts, { maxTexts: batchSize, maxChars: 12_000 }, async (chunk) => {
        if (chunk.length === 1) return [await one(chunk[0] as string)];
        const answer = await chat(
          [
            {
              role: "system",
              content: `You are a translation engine. The user sends a JSON object {"texts": [...]}. Translate every string from ${nameOf(from)} to ${nameOf(to)} and reply with only a JSON object {"translations": [...]} holding exactly one translated string per input string, in the same order, keeping line breaks, numbers and placeholders.${extra}`,
            },
            { role: "user", content: JSON.stringify({ texts: chunk }) },
          ],
          true,
          signal,
          rateLimiter,
          cost(chunk),
        );
        try {
          const parsed = JSON.parse(contentOf(answer)) as { translations?: unknown };
          const list = parsed.translations;
          if (
            Array.isArray(list) &&
            list.length === chunk.length &&
            list.every((item) => typeof item === "string" && item.trim() !== "")
          ) {
            return list as string[];
          }
        } catch (error) {
          if (error instanceof TranslationEngineError && !error.retryable) throw error;
        }
        // Models sometimes merge or drop items: one text at a time is slower but exact.
        const answers: string[] = [];
        for (const text of chunk) answers.push(await one(text));
        return answers;
      });
    },
    async languages(): Promise<LanguagePair[]> {
      return [{ from: "*", to: "*" }];
    },
    async close() {},
  };
}

/**
 * An engine on an OpenAI-compatible chat endpoint: `POST <baseUrl>/chat/completions` with
 * `model`, `messages` and `temperature`, authenticated by `Authorization: Bearer <key>`,
 * answered by `choices[0].message.content`. Texts go in batches as a JSON array with
 * `response_format: { type: "json_object" }`; an answer without exactly one string per text is
 * retried text by text, and an empty answer is never accepted. 429 and 5xx are retried honouring
 * `Retry-After`; `rateLimit` keeps the workers under the provider's requests per minute. Works
 * with any language pair the model knows (`languages()` answers `*→*`).
 *
 * @example
 * ```ts
 * import { openAiChat, translation } from "@conveyor/plugin-translation";
 *
 * export const plugin = translation({
 *   engines: [openAiChat({ model: "gpt-4o-mini", rateLimit: { points: 500, durationMs: 60_000 } })],
 * });
 * ```
 */
export function openAiChat(options: OpenAiChatOptions = {}): EngineDefinition {
  const settings = httpSettings("openAiChat", options);
  const model = options.model ?? process.env.OPENAI_MODEL ?? "gpt-4o-mini";
  const prompt = createHash("sha256")
    .update(`${options.instructions ?? ""}\0${options.temperature ?? 0}`)
    .digest("hex")
    .slice(0, 12);
  return defineEngine({
    name: "openai-chat",
    cacheId: `openai-chat+${model}+${prompt}`,
    load: (_context: ResourceContext) => load(options, settings, model),
  });
}
