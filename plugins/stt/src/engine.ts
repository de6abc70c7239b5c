import type { ResourceContext } from "@conveyor/core";

/**
 * A span of decoded audio handed to an engine: 16-bit little-endian mono PCM at the engine's
 * sample rate, stored in a WAV file the worker can read. Engines that upload audio call
 * {@link EngineAudio.pcm}; a local engine may read the file itself.
 *
 * @example
 * ```ts
 * import type { EngineAudio } from "@conveyor/plugin-stt";
 *
 * async function seconds(audio: EngineAudio): Promise<number> {
 *   return (await audio.pcm()).length / 2 / audio.sampleRate;
 * }
 * ```
 */
export interface EngineAudio {
  /** The WAV file holding the samples. */
  path: string;
  /** Byte offset of the span's first sample in {@link EngineAudio.path}. */
  byteOffset: number;
  /** Bytes of the span. */
  byteLength: number;
  /** Samples per second. */
  sampleRate: number;
  /** Where the span starts in the whole recording, in ms (for messages; timings are relative). */
  startMs: number;
  /** Length of the span in ms. */
  durationMs: number;
  /** Reads the span's samples. */
  pcm(): Promise<Buffer>;
}

/**
 * Options of one {@link SttEngine.transcribe} call.
 *
 * @example
 * ```ts
 * import type { EngineRequest } from "@conveyor/plugin-stt";
 * const request: EngineRequest = { language: "en-US", phrases: ["yes", "no"], signal: AbortSignal.timeout(30_000) };
 * ```
 */
export interface EngineRequest {
  /** BCP-47 language of the speech, e.g. `"en-US"`. @defaultValue the engine's default */
  language?: string | undefined;
  /**
   * Phrases the speech is made of. Engines with grammars (PocketSphinx) decode only these phrases,
   * any number of them in a row; cloud engines take them as hints.
   */
  phrases?: readonly string[] | undefined;
  /** Aborted when the job stops. */
  signal: AbortSignal;
}

/**
 * One stretch of speech in a transcript, times in ms.
 *
 * @example
 * ```ts
 * import type { TranscriptSegment } from "@conveyor/plugin-stt";
 * const segment: TranscriptSegment = { startMs: 0, endMs: 1_840, text: "hello world", confidence: 0.93 };
 * ```
 */
export interface TranscriptSegment {
  /** Start, in ms from the start of the recording (from the start of the span in engine results). */
  startMs: number;
  /** End, in ms, after {@link TranscriptSegment.startMs}. */
  endMs: number;
  /** What was said. */
  text: string;
  /** The engine's confidence in [0, 1], when it gives one. */
  confidence?: number;
}

/**
 * What an engine recognised in one span; times relative to the span's start.
 *
 * @example
 * ```ts
 * import type { EngineResult } from "@conveyor/plugin-stt";
 * const result: EngineResult = { segments: [{ startMs: 120, endMs: 900, text: "yes" }], language: "en" };
 * ```
 */
export interface EngineResult {
  /** The segments in time order; empty when nothing was recognised. */
  segments: TranscriptSegment[];
  /** The language the engine reports, when it reports one. */
  language?: string;
}

/**
 * A loaded speech engine, shared by every job of a worker process.
 *
 * @example
 * ```ts
 * import type { SttEngine } from "@conveyor/plugin-stt";
 *
 * const silentEngine: SttEngine = {
 *   name: "silent",
 *   transcribe: async () => ({ segments: [] }),
 * };
 * ```
 */
export interface SttEngine {
  /** Engine name, used in errors. */
  readonly name: string;
  /** Transcribes one span of audio. Safe to call concurrently. */
  transcribe(audio: EngineAudio, request: EngineRequest): Promise<EngineResult>;
  /** Releases processes and connections; called once when the worker closes. */
  close?(): Promise<void> | void;
}

/**
 * How the plugin gets an engine: its audio needs, and a `load` the plugin wraps in a worker
 * resource, so the engine (a model, a client) is loaded once per worker process and never in a
 * process that only enqueues. `pocketsphinx()`, `openAiTranscription()` and `googleSpeech()` return
 * one; write your own for another engine.
 *
 * @example
 * ```ts
 * import type { SttEngineFactory } from "@conveyor/plugin-stt";
 *
 * export const silence = (): SttEngineFactory => ({
 *   name: "silence",
 *   sampleRate: 16_000,
 *   maxChunkMs: 60_000,
 *   load: () => ({ name: "silence", transcribe: async () => ({ segments: [] }) }),
 * });
 * ```
 */
export interface SttEngineFactory {
  /** Engine name, `[a-z0-9-]`, part of the resource name `stt.engine.<name>`. */
  readonly name: string;
  /** Samples per second the engine wants; audio is resampled to it. */
  readonly sampleRate: number;
  /** Longest span the engine takes well, in ms; longer audio is split into chunks. */
  readonly maxChunkMs: number;
  /** Language used when a job names none. */
  readonly defaultLanguage?: string;
  /** Loads the engine; called at most once per worker process. */
  load(context: ResourceContext): Promise<SttEngine> | SttEngine;
}

/**
 * Groups recognised words into segments, starting a new one after a pause of `pauseMs` or when a
 * segment reaches `maxSegmentMs`, so subtitles come in readable pieces.
 */
export function wordsToSegments(
  words: readonly { word: string; startMs: number; endMs: number; confidence?: number | undefined }[],
  options: { pauseMs?: number; maxSegmentMs?: number } = {},
): TranscriptSegment[] {
  const pauseMs = options.pauseMs ?? 400;
  const maxSegmentMs = options.maxSegmentMs ?? 7_000;
  const segments: TranscriptSegment[] = [];
  let current: (typeof words)[number][] = [];
  const flush = () => {
    const first = current[0];
    const last = current.at(-1);
    if (!first || !last) return;
    const scores = current.map((word) => word.confidence).filter((c): c is number => c !== undefined);
    segments.push({
      startMs: first.startMs,
      endMs: last.endMs,
      text: current.map((word) => word.word).join(" "),
      ...(scores.length ? { confidence: round3(scores.reduce((a, b) => a + b, 0) / scores.length) } : {}),
    });
    current = [];
  };
  for (const word of words) {
    const first = current[0];
    const last = current.at(-1);
    if (first && last && (word.startMs - last.endMs >= pauseMs || word.endMs - first.startMs > maxSegmentMs))
      flush();
    current.push(word);
  }
  flush();
  return segments;
}

/** Rounds to three decimals, enough for a confidence. */
export const round3 = (value: number): number => Math.round(value * 1000) / 1000;
