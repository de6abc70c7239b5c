import { type EnqueuedJob, isConveyorError, maskUrl } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { type JobInfo, printResult, waitForResult } from "../wait.js";

/** The flags every plugin command (`convert`, `translate`, `transcribe`) takes for its job. */
export interface PluginJobFlags {
  wait?: boolean;
  timeout?: number;
  jobId?: string;
  queue?: string;
}

/** What one plugin command adds to the shared enqueue, `--no-wait`, wait and print. */
export interface PluginJob {
  /** The task the plugin registers, e.g. `dataConversion.convert`. */
  task: string;
  /** Builds the job's input; runs after the shared flags are checked, so their errors come first. */
  input: () => unknown | Promise<unknown>;
  /** The usage error's text when the task is not registered: which plugin to install and how. */
  needsPlugin: string;
  /** What the job works on, for the "enqueued job …" line, e.g. `a.csv → b.parquet`. */
  describe: string;
  /** The work as a noun, for the in-process line, e.g. `conversion`. */
  work: string;
  /** After `--no-wait` on a shared backend, point at `conveyor status` and `conveyor result`. */
  hintFollowUp?: boolean;
  /** Prints the result. @defaultValue {@link printResult} */
  print?: (ctx: CommandContext, info: JobInfo, result: unknown) => void;
}

/** Splits a comma list (`a,b`) into its trimmed, non-empty parts. */
export function commaItems(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

const infoOf = (job: EnqueuedJob): JobInfo => ({
  id: job.id,
  queue: job.queue,
  task: job.task,
  created: job.created,
});

/**
 * Adds the options every plugin command ends with: `--no-wait`, `--timeout`, `--job-id`, `--queue`.
 * `worker` says what a worker does with the job, e.g. `converts it`.
 */
export function pluginJobOptions(command: Command, worker: string): Command {
  return command
    .option("--no-wait", `print the job id and return; a worker ${worker}`)
    .option(
      "--timeout <ms>",
      "stop waiting after this many ms (exit 124; the job keeps running)",
      wholeNumber("a time in ms", 0),
    )
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)");
}

/**
 * Enqueues a plugin's task and, unless `--no-wait`, waits for its result with progress and prints
 * it; on an in-process backend (memory://) the CLI runs the job itself, as nothing else can.
 */
export async function runPluginJob(
  ctx: CommandContext,
  flags: PluginJobFlags,
  spec: PluginJob,
): Promise<number> {
  if (flags.timeout !== undefined && flags.wait === false) {
    throw new UsageError(
      "--timeout limits the wait for the result; it cannot go with --no-wait. Drop one of them.",
    );
  }
  const input = await spec.input();
  return ctx.withPlatform(async (conveyor) => {
    let job: EnqueuedJob;
    try {
      job = await conveyor.enqueue(spec.task, input, {
        ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
        ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
      });
    } catch (error) {
      if (isConveyorError(error) && error.code === "UNKNOWN_TASK") {
        throw new UsageError(spec.needsPlugin, { cause: error });
      }
      throw error;
    }
    const info = infoOf(job);
    ctx.job = info;
    const backend = maskUrl(conveyor.backends.queue);
    const inProcess = !conveyor.queue.capabilities.shared;
    if (flags.wait === false) {
      if (ctx.out.flags.json) ctx.out.json(info);
      else ctx.out.line(job.id);
      if (inProcess) {
        ctx.out.warn(
          `[conveyor:cli] ${backend} is in-process: job ${job.id} lives only in this CLI process, and nothing will run it after the CLI exits. Drop --no-wait to run it here, or use a shared backend (--url redis://…) with a \`conveyor worker\` running.`,
        );
      } else if (spec.hintFollowUp) {
        ctx.out.info(
          `check it with \`conveyor status ${job.id}\`, fetch it with \`conveyor result ${job.id}\``,
        );
      }
      return 0;
    }
    ctx.out.info(`enqueued job ${job.id} (${spec.describe}, queue ${job.queue})`);
    if (inProcess) ctx.out.info(`${backend} is in-process: running the ${spec.work} in this CLI process`);
    const worker = inProcess ? conveyor.worker({ queues: [job.queue], concurrency: 1 }) : undefined;
    try {
      (spec.print ?? printResult)(ctx, info, await waitForResult(ctx, job, flags.timeout));
      return 0;
    } finally {
      await worker?.close({ drain: false });
    }
  });
}
