import type {
  EngineAudio,
  EngineRequest,
  EngineResult,
  SttEngineFactory,
  TranscriptSegment,
} from "./engine.js";
import { round3 } from "./engine.js";
import { EngineNotInstalledError, SttEngineError } from "./errors.js";
import { abortableSleep, durationToMs, type HttpEngineOptions, requestJson } from "./http.js";

/**
 * Options of {@link googleSpeech}.
 *
 * @example
 * ```ts
 * import type { GoogleSpeechOptions } from "@conveyor/plugin-stt";
 * const options: GoogleSpeechOptions = { model: "latest_long", mode: "longRunning", pollIntervalMs: 2_000 };
 * ```
 */
export interface GoogleSpeechOptions extends HttpEngineOptions {
  /** API root. @defaultValue `"https://speech.googleapis.com/v1"` */
  baseUrl?: string;
  /** API key, sent as `?key=`. @defaultValue `process.env.GOOGLE_API_KEY` */
  apiKey?: string;
  /** OAuth access token, sent as a bearer token instead of a key. @defaultValue `process.env.GOOGLE_ACCESS_TOKEN` */
  accessToken?: string;
  /** Recognition model, e.g. `"latest_long"`. @defaultValue the API's default */
  model?: string;
  /**
   * `"sync"` calls `speech:recognize` (up to 60 s of audio), `"longRunning"` calls
   * `speech:longrunningrecognize` and polls the operation, `"auto"` picks by length.
   * @defaultValue "auto"
   */
  mode?: "auto" | "sync" | "longRunning";
  /** How often a long-running operation is polled, in ms. @defaultValue 1000 */
  pollIntervalMs?: number;
  /** Longest span sent at once, in ms (inline audio is limited to 10 MB). @defaultValue 55000 */
  maxChunkMs?: number;
  /** Language when a job names none. @defaultValue "en-US" */
  language?: string;
}

interface RecognizeResponse {
  results?: {
    alternatives?: {
      transcript?: string;
      confidence?: number;
      words?: { startTime?: unknown; endTime?: unknown; word?: string }[];
    }[];
    resultEndTime?: unknown;
    languageCode?: string;
  }[];
}

interface Operation {
  name?: string;
  done?: boolean;
  error?: { code?: number; message?: string };
  response?: RecognizeResponse;
}

/** Google's results as segments: one per result, timed by its words, else by result end times. */
export function googleSegments(response: RecognizeResponse, durationMs: number): EngineResult {
  const segments: TranscriptSegment[] = [];
  let previousEndMs = 0;
  let language: string | undefined;
  for (const result of response.results ?? []) {
    const best = result.alternatives?.[0];
    language ??= result.languageCode;
    const endOfResult = durationToMs(result.resultEndTime);
    const text = best?.transcript?.trim();
    if (!best || !text) {
      previousEndMs = endOfResult ?? previousEndMs;
      continue;
    }
    const words = best.words ?? [];
    const startMs = durationToMs(words[0]?.startTime) ?? previousEndMs;
    const endMs = durationToMs(words.at(-1)?.endTime) ?? endOfResult ?? durationMs;
    segments.push({
      startMs,
      endMs: Math.max(startMs, endMs),
      text,
      ...(typeof best.confidence === "number" && best.confidence > 0
        ? { confidence: round3(best.confidence) }
        : {}),
    });
    previousEndMs = endOfResult ?? endMs;
  }
  return { segments, ...(language ? { language } : {}) };
}

/**
 * An engine for Google Cloud Speech-to-Text v1: `speech:recognize` for spans up to a minute, or
 * `speech:longrunningrecognize` plus polling `operations/{name}` for longer ones, with LINEAR16
 * audio inline, word time offsets on, and phrases as a `speechContexts` hint. Authenticates with
 * an API key (`GOOGLE_API_KEY`) or an OAuth access token (`GOOGLE_ACCESS_TOKEN`). Retries
 * 429/5xx honouring `Retry-After`.
 *
 * @example
 * ```ts
 * import { googleSpeech, stt } from "@conveyor/plugin-stt";
 *
 * const plugin = stt({ engine: googleSpeech({ model: "latest_long" }) }); // GOOGLE_API_KEY from env
 * ```
 */
export function googleSpeech(options: GoogleSpeechOptions = {}): SttEngineFactory {
  const baseUrl = (options.baseUrl ?? "https://speech.googleapis.com/v1").replace(/\/+$/, "");
  const mode = options.mode ?? "auto";
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const language = options.language ?? "en-US";
  return {
    name: "google",
    sampleRate: 16_000,
    maxChunkMs: options.maxChunkMs ?? 55_000,
    defaultLanguage: language,
    load() {
      const apiKey = options.apiKey ?? process.env.GOOGLE_API_KEY;
      const accessToken = options.accessToken ?? process.env.GOOGLE_ACCESS_TOKEN;
      if (!apiKey && !accessToken) {
        throw new EngineNotInstalledError(
          "a Google Cloud credential",
          "set GOOGLE_API_KEY (or GOOGLE_ACCESS_TOKEN), or pass googleSpeech({ apiKey })",
        );
      }
      const address = (path: string) =>
        `${baseUrl}/${path}${apiKey && !accessToken ? `?key=${encodeURIComponent(apiKey)}` : ""}`;
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      };
      return {
        name: "google",
        async transcribe(audio: EngineAudio, request: EngineRequest): Promise<EngineResult> {
          const content = (await audio.pcm()).toString("base64");
          const body = JSON.stringify({
            config: {
              encoding: "LINEAR16",
              sampleRateHertz: audio.sampleRate,
              audioChannelCount: 1,
              languageCode: request.language ?? language,
              enableWordTimeOffsets: true,
              enableAutomaticPunctuation: true,
              ...(options.model ? { model: options.model } : {}),
              ...(request.phrases?.length ? { speechContexts: [{ phrases: request.phrases }] } : {}),
            },
            audio: { content },
          });
          const http = { ...options, signal: request.signal };
          const longRunning = mode === "longRunning" || (mode === "auto" && audio.durationMs > 60_000);
          if (!longRunning) {
            const response = (await requestJson(
              "google",
              address("speech:recognize"),
              () => ({ method: "POST", headers, body }),
              http,
            )) as RecognizeResponse;
            return googleSegments(response, audio.durationMs);
          }
          let operation = (await requestJson(
            "google",
            address("speech:longrunningrecognize"),
            () => ({ method: "POST", headers, body }),
            http,
          )) as Operation;
          if (!operation?.name) {
            throw new SttEngineError(
              "google",
              "speech:longrunningrecognize answered without an operation name",
            );
          }
          while (!operation.done) {
            await abortableSleep(pollIntervalMs, request.signal);
            operation = (await requestJson(
              "google",
              address(`operations/${encodeURIComponent(operation.name!)}`),
              () => ({ method: "GET", headers }),
              http,
            )) as Operation;
          }
          if (operation.error) {
            throw new SttEngineError(
              "google",
              `operation ${operation.name} failed: ${operation.error.message ?? "unknown error"}`,
              {
                retryable: false,
                details: { code: operation.error.code },
              },
            );
          }
          return googleSegments(operation.response ?? {}, audio.durationMs);
        },
      };
    },
  };
}
