import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { printResult } from "../wait.js";
import { type PluginJobFlags, pluginJobOptions, runPluginJob } from "./plugin-job.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor transcribe` enqueues, registered by `@conveyor/plugin-stt`. */
const TASK = "stt.transcribe";
const FORMATS = ["txt", "json", "srt", "vtt"];

interface TranscribeFlags extends PluginJobFlags {
  format?: string;
  output?: string;
  language?: string;
  phrases?: string;
  maxChunkMs?: number;
}

/** Phrases for grammar-constrained decoding: one per line of a file (`@file`), or a `|` list. */
async function readPhrases(value: string, cwd: string): Promise<string[]> {
  let items: string[];
  if (value.startsWith("@")) {
    const file = resolve(cwd, value.slice(1));
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (cause) {
      throw new UsageError(`--phrases ${value}: cannot read ${file}. Check the path.`, { cause });
    }
    items = text.split(/\r?\n/);
  } else {
    items = value.split("|");
  }
  const phrases = items.map((item) => item.trim()).filter(Boolean);
  if (phrases.length === 0) {
    throw new UsageError(
      `--phrases ${value} holds no phrase. Give "one phrase|another", or @file with one per line.`,
    );
  }
  return phrases;
}

function transcribe(ctx: CommandContext, flags: TranscribeFlags, audio: string): Promise<number> {
  return runPluginJob(ctx, flags, {
    task: TASK,
    input: async () => {
      const format = flags.format ?? (flags.output ? undefined : "txt");
      if (format !== undefined && !FORMATS.includes(format)) {
        throw new UsageError(
          `--format ${format} is not a transcript format. Use one of ${FORMATS.join(", ")}.`,
        );
      }
      return {
        audio,
        ...(flags.language !== undefined ? { language: flags.language } : {}),
        ...(flags.phrases !== undefined ? { phrases: await readPhrases(flags.phrases, ctx.cwd) } : {}),
        ...(flags.output !== undefined ? { output: flags.output } : {}),
        ...(format !== undefined ? { format } : {}),
        ...(flags.maxChunkMs !== undefined ? { maxChunkMs: flags.maxChunkMs } : {}),
      };
    },
    needsPlugin:
      "conveyor transcribe needs the speech-to-text plugin. Install @conveyor/plugin-stt and register it in conveyor.config.ts: plugins: [stt()].",
    describe: audio,
    work: "transcription",
    print: (ctx, info, value) => {
      const result = value as { formatted?: string; output?: string };
      if (ctx.out.flags.json) printResult(ctx, info, result);
      else if (result.output !== undefined) ctx.out.info(`wrote ${result.output}`);
      else printResult(ctx, info, result.formatted?.replace(/\n$/, "") ?? result);
    },
  });
}

/**
 * `conveyor transcribe <audio>`: enqueues `stt.transcribe` (from `@conveyor/plugin-stt`, registered
 * in the config), waits with progress in seconds of audio, and prints the transcript as text, JSON,
 * SRT or WebVTT; on an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerTranscribe(program: Command, action: ActionFactory): void {
  const command = program
    .command("transcribe")
    .description("transcribe speech in an audio file or URL (needs @conveyor/plugin-stt in the config)")
    .argument("<audio>", "audio file (WAV, FLAC, OGG, MP3) inside the plugin's roots, or an http(s) URL")
    .option("--format <format>", "print the transcript as txt (default), json, srt or vtt")
    .option(
      "--output <file>",
      "write the transcript to this file instead (format from its extension unless --format)",
    )
    .option("--language <tag>", "language of the speech, e.g. en-US (default: the engine's)")
    .option("--phrases <list>", 'decode only these phrases: "one|another", or @file with one per line')
    .option(
      "--max-chunk-ms <ms>",
      "longest chunk; longer audio is split on silence",
      wholeNumber("a time in ms", 2_000),
    );
  pluginJobOptions(command, "transcribes it")
    .addHelpText(
      "after",
      '\nExamples:\n  $ conveyor transcribe talk.flac --format srt > talk.srt\n  $ conveyor transcribe call.wav --phrases "yes|no|call me back"\n  $ conveyor transcribe https://example.com/a.ogg --no-wait --url redis://localhost:6379',
    )
    .action(action<TranscribeFlags>((ctx, flags, audio) => transcribe(ctx, flags, audio!)));
}
