import { extname } from "node:path";
import type { TranscriptSegment } from "./engine.js";

/** The transcript formats the plugin writes. */
export const TRANSCRIPT_FORMATS = ["txt", "json", "srt", "vtt"] as const;

/**
 * A transcript format: plain text (one segment per line), the JSON result, SubRip subtitles or
 * WebVTT subtitles.
 *
 * @example
 * ```ts
 * import type { TranscriptFormat } from "@conveyor/plugin-stt";
 * const format: TranscriptFormat = "srt";
 * ```
 */
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

/**
 * What `stt.transcribe` returns.
 *
 * @example
 * ```ts
 * import type { Transcript } from "@conveyor/plugin-stt";
 * const transcript: Transcript = {
 *   text: "hello world",
 *   language: "en-US",
 *   durationMs: 1_900,
 *   segments: [{ startMs: 150, endMs: 1_700, text: "hello world", confidence: 0.9 }],
 * };
 * ```
 */
export interface Transcript {
  /** Everything said, segments joined by spaces. */
  text: string;
  /** BCP-47 language: the job's, else the engine's report, else the engine's default. */
  language: string;
  /** Length of the audio, in ms. */
  durationMs: number;
  /** The segments, in time order, times in ms from the start of the audio. */
  segments: TranscriptSegment[];
}

/** The format a file name's extension names, if it is one of {@link TRANSCRIPT_FORMATS}. */
export function transcriptFormatOf(path: string): TranscriptFormat | undefined {
  const ext = extname(path).slice(1).toLowerCase();
  return (TRANSCRIPT_FORMATS as readonly string[]).includes(ext) ? (ext as TranscriptFormat) : undefined;
}

function clock(ms: number, separator: "," | "."): string {
  const total = Math.max(0, Math.round(ms));
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}${separator}${pad(total % 1000, 3)}`;
}

// A blank line ends a cue in both subtitle formats, and "-->" starts a timing line in VTT.
const cueText = (text: string) => text.replace(/\n\s*\n/g, "\n").replace(/-->/g, "->");

/**
 * Writes a transcript as text, JSON, SRT or WebVTT. Subtitle cues are the segments; a segment
 * with no duration is shown for at least 500 ms.
 *
 * @example
 * ```ts
 * import { formatTranscript } from "@conveyor/plugin-stt";
 *
 * const srt = formatTranscript(
 *   { text: "hello world", language: "en-US", durationMs: 1_900, segments: [{ startMs: 150, endMs: 1_700, text: "hello world" }] },
 *   "srt",
 * );
 * // "1\n00:00:00,150 --> 00:00:01,700\nhello world\n"
 * ```
 */
export function formatTranscript(transcript: Transcript, format: TranscriptFormat): string {
  const cues = transcript.segments.map((segment) => ({
    ...segment,
    endMs: Math.max(segment.endMs, segment.startMs + 500),
    text: cueText(segment.text),
  }));
  switch (format) {
    case "txt":
      return transcript.segments.length ? `${transcript.segments.map((s) => s.text).join("\n")}\n` : "";
    case "json":
      return `${JSON.stringify(
        {
          text: transcript.text,
          language: transcript.language,
          durationMs: transcript.durationMs,
          segments: transcript.segments,
        },
        null,
        2,
      )}\n`;
    case "srt":
      return cues
        .map((cue, i) => `${i + 1}\n${clock(cue.startMs, ",")} --> ${clock(cue.endMs, ",")}\n${cue.text}\n`)
        .join("\n");
    case "vtt":
      return `WEBVTT\n\n${cues.map((cue) => `${clock(cue.startMs, ".")} --> ${clock(cue.endMs, ".")}\n${cue.text}\n`).join("\n")}`;
  }
}
