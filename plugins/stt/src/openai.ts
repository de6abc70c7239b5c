import { wavFile } from "./audio.js";
import type {
  EngineAudio,
  EngineRequest,
  EngineResult,
  SttEngineFactory,
  TranscriptSegment,
} from "./engine.js";
import { round3 } from "./engine.js";
import { EngineNotInstalledError, SttEngineError } from "./errors.js";
import { type HttpEngineOptions, requestJson } from "./http.js";

/**
 * Options of {@link openAiTranscription}.
 *
 * @example
 * ```ts
 * import type { OpenAiTranscriptionOptions } from "@conveyor/plugin-stt";
 * const options: OpenAiTranscriptionOptions = { baseUrl: "http://localhost:8000/v1", model: "Systran/faster-whisper-small" };
 * ```
 */
export interface OpenAiTranscriptionOptions extends HttpEngineOptions {
  /** API root, up to and including `/v1`. @defaultValue `process.env.OPENAI_BASE_URL`, else `"https://api.openai.com/v1"` */
  baseUrl?: string;
  /** Bearer token. @defaultValue `process.env.OPENAI_API_KEY` (required for api.openai.com) */
  apiKey?: string;
  /** Model name. @defaultValue `"whisper-1"` */
  model?: string;
  /** Longest span uploaded at once, in ms (the API takes files up to 25 MB). @defaultValue 600000 */
  maxChunkMs?: number;
}

interface VerboseJson {
  text?: unknown;
  language?: unknown;
  segments?: { start?: unknown; end?: unknown; text?: unknown; avg_logprob?: unknown }[];
}

/**
 * An engine for any OpenAI-compatible `POST /v1/audio/transcriptions` (OpenAI's Whisper API,
 * faster-whisper-server, whisper.cpp's server, LocalAI…): uploads each span as a WAV file in a
 * multipart form with `response_format=verbose_json` and `timestamp_granularities[]=segment`, and
 * maps the returned segments (`start`/`end` in seconds, `avg_logprob` as confidence). Phrases go
 * in `prompt` as a hint. Retries 429/5xx honouring `Retry-After`.
 *
 * @example
 * ```ts
 * import { openAiTranscription, stt } from "@conveyor/plugin-stt";
 *
 * const plugin = stt({ engine: openAiTranscription({ model: "whisper-1" }) }); // OPENAI_API_KEY from env
 * ```
 */
export function openAiTranscription(options: OpenAiTranscriptionOptions = {}): SttEngineFactory {
  const baseUrl = (options.baseUrl ?? process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(
    /\/+$/,
    "",
  );
  const model = options.model ?? "whisper-1";
  return {
    name: "openai",
    sampleRate: 16_000,
    maxChunkMs: options.maxChunkMs ?? 600_000,
    load() {
      const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
      if (!apiKey && new URL(baseUrl).hostname === "api.openai.com") {
        throw new EngineNotInstalledError(
          "an OpenAI API key",
          "set OPENAI_API_KEY or pass openAiTranscription({ apiKey })",
        );
      }
      const url = `${baseUrl}/audio/transcriptions`;
      return {
        name: "openai",
        async transcribe(audio: EngineAudio, request: EngineRequest): Promise<EngineResult> {
          const file = wavFile(await audio.pcm(), audio.sampleRate);
          const body = await requestJson(
            "openai",
            url,
            () => {
              const form = new FormData();
              form.append("file", new Blob([file], { type: "audio/wav" }), "audio.wav");
              form.append("model", model);
              form.append("response_format", "verbose_json");
              form.append("timestamp_granularities[]", "segment");
              if (request.language) form.append("language", request.language.split("-")[0]!.toLowerCase());
              if (request.phrases?.length) form.append("prompt", request.phrases.join(". "));
              return {
                method: "POST",
                body: form,
                headers: (apiKey ? { authorization: `Bearer ${apiKey}` } : {}) as Record<string, string>,
              };
            },
            { ...options, signal: request.signal },
          );
          const json = body as VerboseJson;
          if (typeof json?.text !== "string") {
            throw new SttEngineError(
              "openai",
              `${url} answered without a "text" field. Is it an OpenAI-compatible transcription endpoint?`,
            );
          }
          const segments: TranscriptSegment[] =
            Array.isArray(json.segments) && json.segments.length
              ? json.segments
                  .filter((s) => typeof s.text === "string" && s.text.trim())
                  .map((s) => ({
                    startMs: Math.round(Number(s.start ?? 0) * 1000),
                    endMs: Math.round(Number(s.end ?? 0) * 1000),
                    text: String(s.text).trim(),
                    ...(typeof s.avg_logprob === "number"
                      ? { confidence: round3(Math.exp(s.avg_logprob)) }
                      : {}),
                  }))
              : json.text.trim()
                ? [{ startMs: 0, endMs: Math.round(audio.durationMs), text: json.text.trim() }]
                : [];
          return { segments, ...(typeof json.language === "string" ? { language: json.language } : {}) };
        },
      };
    },
  };
}
