import { type Conveyor, type EnqueuedJob, isConveyorError, maskUrl } from "@conveyor/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { type JobInfo, printResult, waitForResult } from "../wait.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor translate` enqueues, registered by `@conveyor/plugin-translation`. */
const TASK = "translation.translateFile";

interface TranslateFlags {
  column: string[];
  from: string;
  to: string;
  engine?: string;
  format?: string;
  delimiter?: string;
  header?: boolean;
  suffix?: string;
  chunkSize?: number;
  wait?: boolean;
  timeout?: number;
  jobId?: string;
  queue?: string;
}

/** `--column a --column b,c` → `["a", "b", "c"]`. */
function collectColumns(value: string, previous: string[] = []): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) {
    throw new InvalidArgumentError(
      "must name a column (CSV/TSV) or a field path (JSON/NDJSON), e.g. --column text.",
    );
  }
  return [...previous, ...items];
}

const infoOf = (job: EnqueuedJob): JobInfo => ({
  id: job.id,
  queue: job.queue,
  task: job.task,
  created: job.created,
});

async function enqueueTranslation(
  conveyor: Conveyor,
  input: unknown,
  flags: TranslateFlags,
): Promise<EnqueuedJob> {
  try {
    return await conveyor.enqueue(TASK, input, {
      ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
      ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
    });
  } catch (error) {
    if (isConveyorError(error) && error.code === "UNKNOWN_TASK") {
      throw new UsageError(
        "conveyor translate needs the translation plugin. Install @conveyor/plugin-translation and register it in conveyor.config.ts: plugins: [translation()].",
        { cause: error },
      );
    }
    throw error;
  }
}

async function translate(
  ctx: CommandContext,
  flags: TranslateFlags,
  input: string,
  output: string,
): Promise<number> {
  if (flags.timeout !== undefined && flags.wait === false) {
    throw new UsageError(
      "--timeout limits the wait for the result; it cannot go with --no-wait. Drop one of them.",
    );
  }
  const jobInput = {
    input,
    output,
    columns: flags.column,
    from: flags.from,
    to: flags.to,
    ...(flags.engine !== undefined ? { engine: flags.engine } : {}),
    ...(flags.format !== undefined ? { format: flags.format } : {}),
    ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
    ...(flags.header === false ? { header: false } : {}),
    ...(flags.suffix !== undefined ? { suffix: flags.suffix } : {}),
    ...(flags.chunkSize !== undefined ? { chunkSize: flags.chunkSize } : {}),
  };
  return ctx.withPlatform(async (conveyor) => {
    const job = await enqueueTranslation(conveyor, jobInput, flags);
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
      } else {
        ctx.out.info(
          `check it with \`conveyor status ${job.id}\`, fetch it with \`conveyor result ${job.id}\``,
        );
      }
      return 0;
    }
    ctx.out.info(
      `enqueued job ${job.id} (${input} → ${output}, ${flags.from}→${flags.to}, queue ${job.queue})`,
    );
    if (inProcess) ctx.out.info(`${backend} is in-process: running the translation in this CLI process`);
    const worker = inProcess ? conveyor.worker({ queues: [job.queue], concurrency: 1 }) : undefined;
    try {
      printResult(ctx, infoOf(job), await waitForResult(ctx, job, flags.timeout));
      return 0;
    } finally {
      await worker?.close({ drain: false });
    }
  });
}

/**
 * `conveyor translate <in> <out> --column text --from en --to es`: enqueues
 * `translation.translateFile` (from `@conveyor/plugin-translation`, registered in the config) and
 * waits for it with progress in rows; `--no-wait` prints the job id for `conveyor status` and
 * `conveyor result`. On an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerTranslate(program: Command, action: ActionFactory): void {
  program
    .command("translate")
    .description(
      "translate columns of a CSV/TSV file or fields of a JSON/NDJSON file (needs @conveyor/plugin-translation in the config)",
    )
    .argument("<input>", "file to read: .csv, .tsv, .json (an array) or .ndjson/.jsonl")
    .argument("<output>", "file to write, same format; the other columns and fields are kept as they are")
    .requiredOption(
      "--column <names>",
      "column(s) to translate (JSON: field paths like review.text or items.*.text); repeat or comma-separate",
      collectColumns,
    )
    .requiredOption("--from <lang>", "source language, e.g. en")
    .requiredOption("--to <lang>", "target language, e.g. es")
    .option("--engine <name>", "engine registered with the plugin (default: the plugin's first, apertium)")
    .option("--format <format>", "csv, tsv, json or ndjson (default: from the input's extension)")
    .option("--delimiter <char>", "CSV delimiter (default ',', TSV: tab)")
    .option("--no-header", "CSV/TSV files have no header line; --column takes 1-based positions")
    .option("--suffix <text>", "keep the originals and write translations to <column><suffix>, e.g. _es")
    .option(
      "--chunk-size <rows>",
      "rows per step (read, translate, write, progress)",
      wholeNumber("a row count", 1),
    )
    .option("--no-wait", "print the job id and return; a worker translates it")
    .option(
      "--timeout <ms>",
      "stop waiting after this many ms (exit 124; the job keeps running)",
      wholeNumber("a time in ms", 0),
    )
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor translate reviews.csv reviews.es.csv --column text --from en --to es\n  $ conveyor translate events.ndjson events.es.ndjson --column title,body.text --from en --to es --suffix _es\n  $ conveyor translate big.csv big.es.csv --column text --from en --to es --no-wait --url redis://localhost:6379\n    then: conveyor status <id> · conveyor result <id> --wait",
    )
    .action(action<TranslateFlags>((ctx, flags, input, output) => translate(ctx, flags, input!, output!)));
}
