import { type Conveyor, type EnqueuedJob, isConveyorError, maskUrl } from "@conveyor/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { type JobInfo, printResult, waitForResult } from "../wait.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor convert` enqueues, registered by `@conveyor/plugin-data-conversion`. */
const TASK = "dataConversion.convert";

interface ConvertFlags {
  from?: string;
  to?: string;
  columns?: string[];
  delimiter?: string;
  header?: boolean;
  compression?: string;
  onError?: string;
  wait?: boolean;
  timeout?: number;
  jobId?: string;
  queue?: string;
}

function columnList(value: string): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new InvalidArgumentError("must name at least one column, e.g. --columns id,name.");
  return items;
}

const infoOf = (job: EnqueuedJob): JobInfo => ({
  id: job.id,
  queue: job.queue,
  task: job.task,
  created: job.created,
});

async function enqueueConversion(
  conveyor: Conveyor,
  input: unknown,
  flags: ConvertFlags,
): Promise<EnqueuedJob> {
  try {
    return await conveyor.enqueue(TASK, input, {
      ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
      ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
    });
  } catch (error) {
    if (isConveyorError(error) && error.code === "UNKNOWN_TASK") {
      throw new UsageError(
        `conveyor convert needs the data-conversion plugin. Install @conveyor/plugin-data-conversion and register it in conveyor.config.ts: plugins: [dataConversion()].`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function convert(
  ctx: CommandContext,
  flags: ConvertFlags,
  input: string,
  output: string,
): Promise<number> {
  if (flags.timeout !== undefined && flags.wait === false) {
    throw new UsageError(
      "--timeout limits the wait for the result; it cannot go with --no-wait. Drop one of them.",
    );
  }
  const options = {
    ...(flags.columns ? { columns: flags.columns } : {}),
    ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
    ...(flags.header === false ? { header: false } : {}),
    ...(flags.compression !== undefined ? { compression: flags.compression } : {}),
    ...(flags.onError !== undefined ? { onError: flags.onError } : {}),
  };
  const jobInput = {
    input,
    output,
    ...(flags.from !== undefined ? { from: flags.from } : {}),
    ...(flags.to !== undefined ? { to: flags.to } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
  return ctx.withPlatform(async (conveyor) => {
    const job = await enqueueConversion(conveyor, jobInput, flags);
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
    ctx.out.info(`enqueued job ${job.id} (${input} → ${output}, queue ${job.queue})`);
    if (inProcess) ctx.out.info(`${backend} is in-process: running the conversion in this CLI process`);
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
 * `conveyor convert <in> <out>`: enqueues `dataConversion.convert` (from
 * `@conveyor/plugin-data-conversion`, registered in the config) and waits for it with progress in
 * rows; on an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerConvert(program: Command, action: ActionFactory): void {
  program
    .command("convert")
    .description(
      "convert a CSV, TSV, JSON, NDJSON or Parquet file (needs @conveyor/plugin-data-conversion in the config)",
    )
    .argument("<input>", "file to read; format from its extension unless --from")
    .argument("<output>", "file to write; format from its extension unless --to")
    .option("--from <format>", "input format: csv, tsv, json, ndjson or parquet")
    .option("--to <format>", "output format: csv, tsv, json, ndjson or parquet")
    .option("--columns <list>", "only these columns, in this order, e.g. id,name", columnList)
    .option("--delimiter <char>", "CSV delimiter (default: detected on read, ',' on write)")
    .option("--no-header", "CSV/TSV files have no header line")
    .option("--compression <codec>", "Parquet codec: snappy, zstd, gzip, lz4, brotli or uncompressed")
    .option("--on-error <mode>", "bad CSV rows: fail (default) or skip")
    .option("--no-wait", "print the job id and return; a worker converts it")
    .option(
      "--timeout <ms>",
      "stop waiting after this many ms (exit 124; the job keeps running)",
      wholeNumber("a time in ms", 0),
    )
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor convert orders.csv orders.parquet --compression zstd\n  $ conveyor convert events.parquet events.ndjson --columns id,type --no-wait --url redis://localhost:6379",
    )
    .action(action<ConvertFlags>((ctx, flags, input, output) => convert(ctx, flags, input!, output!)));
}
