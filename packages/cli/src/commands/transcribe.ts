import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Conveyor, type EnqueuedJob, isConveyorError, maskUrl } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { type JobInfo, printResult, waitForResult } from "../wait.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor transcribe` enqueues, registered by `@conveyor/plugin-stt`. */
const TASK = "stt.transcribe";
const FORMATS = ["txt", "json", "srt", "vtt"];

interface TranscribeFlags {
  format?: string;
  output?: string;
  language?: string;
  phrases?: string;
  maxChunkMs?: number;
  wait?: boolean;
  timeout?: number;
  jobId?: string;
  queue?: string;
}

const infoOf = (job: EnqueuedJob): JobInfo => ({
  id: job.id,
  queue: job.queue,
  task: job.task,
  created: job.created,
});

async function enqueueTranscription(
  conveyor: Conveyor,
  input: unknown,
  flags: TranscribeFlags,
): Promise<EnqueuedJob> {
  try {
    return await conveyor.enqueue(TASK, input, {
      ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
      ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
    });
  } catch (error) {
    if (isConveyorError(error) && error.code === "UNKNOWN_TASK") {
      throw new UsageError(
        "conveyor transcribe needs the speech-to-text plugin. Install @conveyor/plugin-stt and register it in conveyor.config.ts: plugins: [stt()].",
        { cause: error },
      );
    }
    throw error;
  }
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

async function transcribe(ctx: CommandContext, flags: TranscribeFlags, audio: string): Promise<number> {
  if (flags.timeout !== undefined && flags.wait === false) {
    throw new UsageError(
      "--timeout limits the wait for the result; it cannot go with --no-wait. Drop one of them.",
    );
  }
  const format = flags.format ?? (flags.output ? undefined : "txt");
  if (format !== undefined && !FORMATS.includes(format)) {
    throw new UsageError(`--format ${format} is not a transcript format. Use one of ${FORMATS.join(", ")}.`);
  }
  const input = {
    audio,
    ...(flags.language !== undefined ? { language: flags.language } : {}),
    ...(flags.phrases !== undefined ? { phrases: await readPhrases(flags.phrases, ctx.cwd) } : {}),
    ...(flags.output !== undefined ? { output: flags.output } : {}),
    ...(format !== undefined ? { format } : {}),
    ...(flags.maxChunkMs !== undefined ? { maxChunkMs: flags.maxChunkMs } : {}),
  };
  return ctx.withPlatform(async (conveyor) => {
    const job = await enqueueTranscription(conveyor, input, flags);
    ctx.job = infoOf(job);
    const backend = maskUrl(conveyor.backends.queue);
    const inProcess = !conveyor.queue.capabilities.shared;
    if (flags.wait === false) {
      if (ctx.out.flags.json) ctx.out.json(infoOf(job));
      else ctx.out.line(job.id);
      if (inProcess) {
        ctx.out.warn(
          `[conveyor:cli] ${backend} is in-process: job ${job.id} lives only in this CLI process, and nothing will run it after the CLI exits. Drop --no-wait to run it here, or use a shared backend (--url redis://…) with a \`conveyor worker\` running.`,
        );
      }
      return 0;
    }
    ctx.out.info(`enqueued job ${job.id} (${audio}, queue ${job.queue})`);
    if (inProcess) ctx.out.info(`${backend} is in-process: running the transcription in this CLI process`);
    const worker = inProcess ? conveyor.worker({ queues: [job.queue], concurrency: 1 }) : undefined;
    try {
      const result = (await waitForResult(ctx, job, flags.timeout)) as {
        formatted?: string;
        output?: string;
      };
      if (ctx.out.flags.json) printResult(ctx, infoOf(job), result);
      else if (result.output !== undefined) ctx.out.info(`wrote ${result.output}`);
      else printResult(ctx, infoOf(job), result.formatted?.replace(/\n$/, "") ?? result);
      return 0;
    } finally {
      await worker?.close({ drain: false });
    }
  });
}

/**
 * `conveyor transcribe <audio>`: enqueues `stt.transcribe` (from `@conveyor/plugin-stt`, registered
 * in the config), waits with progress in seconds of audio, and prints the transcript as text, JSON,
 * SRT or WebVTT; on an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerTranscribe(program: Command, action: ActionFactory): void {
  program
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
    )
    .option("--no-wait", "print the job id and return; a worker transcribes it")
    .option(
      "--timeout <ms>",
      "stop waiting after this many ms (exit 124; the job keeps running)",
      wholeNumber("a time in ms", 0),
    )
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)")
    .addHelpText(
      "after",
      '\nExamples:\n  $ conveyor transcribe talk.flac --format srt > talk.srt\n  $ conveyor transcribe call.wav --phrases "yes|no|call me back"\n  $ conveyor transcribe https://example.com/a.ogg --no-wait --url redis://localhost:6379',
    )
    .action(action<TranscribeFlags>((ctx, flags, audio) => transcribe(ctx, flags, audio!)));
}
