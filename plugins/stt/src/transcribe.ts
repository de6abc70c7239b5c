import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type Conveyor,
  defineTask,
  type EnqueuedJob,
  PathNotAllowedError,
  type Resource,
  resolveInputPath,
  resolveOutputPath,
  type Task,
  type TaskContext,
} from "@conveyor/core";
import { z } from "zod";
import {
  decodeAudio,
  frameLevels,
  planChunks,
  readPcm,
  readWavInfo,
  type Span,
  type WavInfo,
} from "./audio.js";
import type { EngineResult, SttEngine, SttEngineFactory, TranscriptSegment } from "./engine.js";
import { AudioDecodeError } from "./errors.js";
import { formatTranscript, TRANSCRIPT_FORMATS, type Transcript, transcriptFormatOf } from "./formats.js";

/** Name of the task that transcribes one chunk of a long recording, as a child job. */
export const CHUNK_TASK = "stt.transcribeChunk";

/**
 * The input schema of `stt.transcribe` (zod, a Standard Schema).
 *
 * @example
 * ```ts
 * import { TranscribeInput } from "@conveyor/plugin-stt";
 *
 * const input = TranscribeInput.parse({ audio: "talks/intro.flac", output: "talks/intro.srt", phrases: ["next slide please"] });
 * ```
 */
export const TranscribeInput = z
  .object({
    /** The audio: a path (relative to the first root, or absolute inside a root) or an http(s) URL. */
    audio: z.string().min(1),
    /** BCP-47 language of the speech, e.g. `"en-US"`. @defaultValue the engine's default */
    language: z.string().min(2).max(35).optional(),
    /**
     * Grammar-constrained decoding: the speech is made of these phrases (any number, in any order).
     * PocketSphinx decodes only them; cloud engines take them as hints.
     */
    phrases: z.array(z.string().min(1).max(1_000)).min(1).max(10_000).optional(),
    /** Also write the transcript to this file (inside a root); its folder must exist. */
    output: z.string().min(1).optional(),
    /**
     * Format of `output`; without `output`, the result carries the transcript in this format as
     * `formatted`. @defaultValue from the extension of `output` (.txt, .json, .srt, .vtt), else json
     */
    format: z.enum(TRANSCRIPT_FORMATS).optional(),
    /** Longest chunk, in ms; longer audio is split on silence. @defaultValue the engine's */
    maxChunkMs: z.number().int().min(2_000).max(3_600_000).optional(),
  })
  .strict();

/**
 * The input of `stt.transcribe`, as {@link TranscribeInput} parses it.
 *
 * @example
 * ```ts
 * import type { TranscribeInputType } from "@conveyor/plugin-stt";
 * const input: TranscribeInputType = { audio: "call.wav", language: "en-US" };
 * ```
 */
export type TranscribeInputType = z.infer<typeof TranscribeInput>;

/**
 * What `stt.transcribe` returns: the {@link Transcript}, how many chunks the audio was split into,
 * and the file written when `output` was given.
 *
 * @example
 * ```ts
 * import type { TranscribeResult } from "@conveyor/plugin-stt";
 * const result: TranscribeResult = { text: "", language: "en-US", durationMs: 900, segments: [], chunks: 1 };
 * ```
 */
export interface TranscribeResult extends Transcript {
  /** Chunks the audio was split into (1 for short audio). */
  chunks: number;
  /** The absolute path of the transcript file, when `output` was given. */
  output?: string;
  /** The transcript in `format`, when `format` was given without `output` (for a CLI to print). */
  formatted?: string;
}

/** The input of the child task `stt.transcribeChunk`. */
const ChunkInput = z
  .object({
    audio: z.string().min(1),
    startMs: z.number().min(0),
    endMs: z.number().min(0),
    language: z.string().min(2).max(35).optional(),
    phrases: z.array(z.string().min(1).max(1_000)).min(1).max(10_000).optional(),
  })
  .strict();

type ChunkInputType = z.infer<typeof ChunkInput>;

/** Options of {@link transcribeTasks}, given by the plugin. */
export interface TranscribeTaskOptions {
  /** The engine and its worker resource. */
  engine: SttEngineFactory;
  resource: Resource<SttEngine>;
  /** Folders input and output paths must stay in. */
  roots: readonly string[];
  /** Folder for decoded audio, shared by the workers that run chunk jobs. */
  workDir: string;
  /** Largest input accepted (file or download), in bytes. */
  maxInputBytes: number | undefined;
  /** Hosts URL inputs may point to; undefined allows any. */
  urlHosts?: readonly string[] | undefined;
  /** Chunks transcribed at once inside one job when chunks do not go to child jobs. */
  concurrency: number;
  /** Chunks go to child jobs through `ctx.conveyor`; `false` transcribes every chunk in the job. */
  childJobs: boolean;
}

/** A BCP-47 tag in its canonical case (`en-us` → `en-US`); other strings as they are. */
function canonicalLanguage(tag: string): string {
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? tag;
  } catch {
    return tag;
  }
}

const isUrl = (value: string) => /^https?:\/\//i.test(value);

async function download(
  url: string,
  target: string,
  maxBytes: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (cause) {
    if (signal.aborted) throw signal.reason;
    throw new AudioDecodeError(url, `the download failed (${(cause as Error).message}). Check the URL`, {
      cause,
      retryable: true,
    });
  }
  if (!response.ok || !response.body) {
    throw new AudioDecodeError(url, `the download answered HTTP ${response.status}. Check the URL`, {
      retryable: response.status === 429 || response.status >= 500,
      details: { status: response.status },
    });
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (maxBytes !== undefined && declared > maxBytes) {
    await response.body.cancel();
    throw new AudioDecodeError(
      url,
      `it is ${declared} bytes, over the limit of ${maxBytes} bytes. Raise maxInputBytes or send a shorter file`,
    );
  }
  let seen = 0;
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (maxBytes !== undefined && seen > maxBytes) {
      body.destroy(
        new AudioDecodeError(
          url,
          `it is over the limit of ${maxBytes} bytes. Raise maxInputBytes or send a shorter file`,
        ),
      );
    }
  });
  await pipeline(body, createWriteStream(target), { signal });
}

function engineAudio(wav: WavInfo, span: Span) {
  const bytesPerMs = (wav.sampleRate * 2) / 1000;
  const start = Math.min(wav.dataBytes, Math.round(span.startMs * bytesPerMs) & ~1);
  const end = Math.min(wav.dataBytes, Math.round(span.endMs * bytesPerMs) & ~1);
  return {
    path: wav.path,
    byteOffset: wav.dataOffset + start,
    byteLength: end - start,
    sampleRate: wav.sampleRate,
    startMs: span.startMs,
    durationMs: span.endMs - span.startMs,
    pcm: () => readPcm(wav, span.startMs, span.endMs),
  };
}

/** Transcribes one span and moves its segment times from the span's start to the recording's. */
async function transcribeSpan(
  engine: SttEngine,
  wav: WavInfo,
  span: Span,
  request: { language?: string | undefined; phrases?: readonly string[] | undefined; signal: AbortSignal },
): Promise<EngineResult> {
  request.signal.throwIfAborted();
  const result = await engine.transcribe(engineAudio(wav, span), request);
  const segments = result.segments.map((segment) => ({
    ...segment,
    startMs: Math.min(span.endMs, Math.round(span.startMs + segment.startMs)),
    endMs: Math.min(span.endMs, Math.round(span.startMs + segment.endMs)),
  }));
  return { segments, ...(result.language ? { language: result.language } : {}) };
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * Runs the chunks as child jobs of `stt.transcribeChunk` and awaits them through their handles.
 * The parent does not sit idle holding its worker slot: it walks the chunks in order and takes
 * back any that no worker has claimed yet (cancelling the waiting child, then transcribing it
 * itself), so a lone worker with concurrency 1 finishes too, and every free slot anywhere helps.
 * A child that fails or is cancelled by someone else is transcribed by the parent once more.
 */
async function runChildJobs(
  conveyor: Conveyor,
  spans: readonly Span[],
  input: ChunkInputType,
  ctx: TaskContext,
  local: (index: number) => Promise<EngineResult>,
  done: (index: number) => void,
): Promise<EngineResult[]> {
  const jobs: EnqueuedJob<EngineResult>[] = await conveyor.enqueueMany<EngineResult>(
    CHUNK_TASK,
    spans.map((span, index) => ({
      input: { ...input, startMs: span.startMs, endMs: span.endMs },
      options: { jobId: `${ctx.jobId}:attempt-${ctx.attempt}:chunk-${index}`, queue: ctx.queue },
    })),
  );
  const taken = new Map<number, Promise<EngineResult>>();
  const runHere = (index: number) => {
    let held = taken.get(index);
    if (!held) {
      held = local(index);
      taken.set(index, held);
    }
    return held;
  };
  const settled = new Set<number>();
  const waits = jobs.map((job, index) =>
    job
      .result({ signal: ctx.signal })
      .catch((error: unknown) => {
        if (ctx.signal.aborted) throw error;
        return runHere(index);
      })
      .then((result) => {
        settled.add(index);
        done(index);
        return result;
      }),
  );
  // Keep the rejections of waits handled while the loop below runs.
  const all = Promise.all(waits);
  all.catch(() => {});
  try {
    for (const [index, job] of jobs.entries()) {
      if (ctx.signal.aborted || taken.has(index)) continue;
      const state = await job.status().catch(() => undefined);
      if (state === "waiting" || state === "delayed" || state === "retrying") {
        if ((await conveyor.cancel(job.id)) === "cancelled") await runHere(index);
      }
    }
    return await all;
  } finally {
    if (ctx.signal.aborted) {
      await Promise.allSettled(
        jobs.filter((_, index) => !settled.has(index)).map((job) => conveyor.cancel(job.id)),
      );
    }
  }
}

/**
 * Creates `stt.transcribe` and its child task `stt.transcribeChunk`, bound to an engine. Most apps
 * use {@link stt} instead, which builds them from one options object.
 *
 * `stt.transcribe` decodes the audio (sox, or ffmpeg when present) to 16-bit mono PCM at the
 * engine's rate, splits it into chunks of at most `maxChunkMs` on pauses, transcribes the chunks
 * (as child jobs on the worker's platform unless `childJobs` is false, else in the job) and stitches the
 * segments in order. Progress is in ms of audio transcribed.
 *
 * @example
 * ```ts
 * import { defineResource } from "@conveyor/core";
 * import { pocketsphinx, transcribeTasks } from "@conveyor/plugin-stt";
 *
 * const engine = pocketsphinx();
 * const resource = defineResource({ name: "stt.engine.pocketsphinx", load: (ctx) => engine.load(ctx) });
 * const [transcribe, chunk] = transcribeTasks({
 *   engine, resource, roots: ["/srv/audio"], workDir: "/tmp/conveyor-stt", maxInputBytes: undefined, urlHosts: undefined, concurrency: 2, childJobs: true,
 * });
 * ```
 */
export function transcribeTasks(
  options: TranscribeTaskOptions,
): [Task<TranscribeInputType, TranscribeResult>, Task<ChunkInputType, EngineResult>] {
  const fence = { roots: options.roots, scope: "stt", hint: "stt({ roots: [...] })" };

  const transcribe = defineTask({
    name: "stt.transcribe",
    description:
      "transcribe speech in an audio file or URL (WAV, FLAC, OGG, MP3) to text with timed segments",
    input: TranscribeInput,
    async run(input, ctx): Promise<TranscribeResult> {
      const output = input.output ? await resolveOutputPath(input.output, fence) : undefined;
      await mkdir(options.workDir, { recursive: true });
      const stem = `${ctx.jobId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80)}-${randomBytes(4).toString("hex")}`;
      const downloaded = isUrl(input.audio) ? join(options.workDir, `${stem}.download`) : undefined;
      const wavPath = join(options.workDir, `${stem}.wav`);
      try {
        let source: string;
        if (downloaded) {
          const host = new URL(input.audio).hostname;
          if (options.urlHosts && !options.urlHosts.includes(host)) {
            throw new PathNotAllowedError(
              input.audio,
              options.urlHosts.length
                ? `its host ${host} is not one of the allowed hosts (${options.urlHosts.join(", ")}). Add it with stt({ urlHosts: [...] })`
                : "audio URLs are turned off (stt({ urlHosts: [] })). Pass a file path inside the roots",
              { reason: "host-not-allowed", host },
              { scope: "stt" },
            );
          }
          await download(input.audio, downloaded, options.maxInputBytes, ctx.signal);
          source = downloaded;
        } else {
          source = (await resolveInputPath(input.audio, { ...fence, maxBytes: options.maxInputBytes })).path;
        }
        if (output && output === source) {
          throw new PathNotAllowedError(
            input.output!,
            "it is the input file. Write the transcript to another file",
            {
              reason: "same-file",
            },
            { scope: "stt" },
          );
        }
        const wav = await decodeAudio(source, wavPath, {
          sampleRate: options.engine.sampleRate,
          signal: ctx.signal,
        });
        const maxChunkMs = input.maxChunkMs ?? options.engine.maxChunkMs;
        const spans =
          wav.durationMs > maxChunkMs
            ? planChunks(await frameLevels(wav), wav.durationMs, { maxChunkMs })
            : [{ startMs: 0, endMs: wav.durationMs }];
        const durationMs = Math.round(wav.durationMs);
        let doneMs = 0;
        const reportDone = (index: number) => {
          const span = spans[index]!;
          doneMs += span.endMs - span.startMs;
          void ctx.progress(
            Math.round(doneMs),
            durationMs,
            `transcribed ${(doneMs / 1000).toFixed(1)} s of ${(durationMs / 1000).toFixed(1)} s`,
          );
        };
        void ctx.progress(
          0,
          durationMs,
          `transcribing ${(durationMs / 1000).toFixed(1)} s of audio in ${spans.length} chunk(s)`,
        );

        const request = { language: input.language, phrases: input.phrases, signal: ctx.signal };
        const local = async (index: number) =>
          transcribeSpan(await ctx.resource(options.resource), wav, spans[index]!, request);
        const results =
          options.childJobs && spans.length > 1
            ? await runChildJobs(
                ctx.conveyor,
                spans,
                {
                  audio: wav.path,
                  startMs: 0,
                  endMs: 0,
                  ...(input.language ? { language: input.language } : {}),
                  ...(input.phrases ? { phrases: input.phrases } : {}),
                },
                ctx,
                local,
                reportDone,
              )
            : await mapLimit(spans, options.concurrency, async (_, index) => {
                const result = await local(index);
                reportDone(index);
                return result;
              });

        const segments: TranscriptSegment[] = results.flatMap((result) => result.segments);
        const transcript: TranscribeResult = {
          text: segments.map((segment) => segment.text).join(" "),
          language: canonicalLanguage(
            input.language ??
              results.find((r) => r.language)?.language ??
              options.engine.defaultLanguage ??
              "und",
          ),
          durationMs,
          segments,
          chunks: spans.length,
        };
        if (output) {
          const format = input.format ?? transcriptFormatOf(output) ?? "json";
          const temporary = join(
            dirname(output),
            `.${basename(output)}.${randomBytes(6).toString("hex")}.tmp`,
          );
          try {
            await writeFile(temporary, formatTranscript(transcript, format));
            await rename(temporary, output);
          } finally {
            await rm(temporary, { force: true });
          }
          transcript.output = output;
        }
        if (!output && input.format) transcript.formatted = formatTranscript(transcript, input.format);
        await ctx.progress(durationMs, durationMs, "transcribed");
        return transcript;
      } finally {
        await rm(wavPath, { force: true });
        if (downloaded) await rm(downloaded, { force: true });
      }
    },
  });

  const chunk = defineTask({
    name: CHUNK_TASK,
    description: "transcribe one chunk of decoded audio for stt.transcribe (a child job)",
    input: ChunkInput,
    async run(input, ctx): Promise<EngineResult> {
      // Anyone can enqueue this task by name: the audio must be a file the plugin decoded itself.
      const { path } = await resolveInputPath(input.audio, {
        roots: [options.workDir],
        scope: "stt",
        hint: "the stt plugin's workDir (chunk jobs are enqueued by stt.transcribe)",
      });
      const wav = await readWavInfo(path);
      const engine = await ctx.resource(options.resource);
      return transcribeSpan(
        engine,
        wav,
        { startMs: input.startMs, endMs: Math.min(input.endMs, wav.durationMs) },
        {
          language: input.language,
          phrases: input.phrases,
          signal: ctx.signal,
        },
      );
    },
  });

  return [transcribe, chunk];
}
