import {
  type Conveyor,
  type EnqueuedJob,
  type EnqueueOptions,
  isConveyorError,
  maskUrl,
} from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { parseInput, wholeNumber } from "../options.js";
import { type JobInfo, printResult, waitForResult } from "../wait.js";
import type { ActionFactory } from "./types.js";

interface EnqueueFlags {
  input?: string;
  wait?: boolean;
  timeout?: number;
  delay?: number;
  priority?: number;
  jobId?: string;
  queue?: string;
}

interface RunFlags {
  input?: string;
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

function enqueueOptions(flags: EnqueueFlags & RunFlags): EnqueueOptions {
  return {
    ...(flags.jobId !== undefined ? { jobId: flags.jobId } : {}),
    ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
    ...(flags.delay !== undefined ? { delayMs: flags.delay } : {}),
    ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
  };
}

/**
 * Runs `job` in this process (when `inProcess`), waits for its result with progress and prints it.
 * The in-process worker consumes only the job's queue and is closed without draining afterwards,
 * so jobs of other producers it may have taken go back to the queue for real workers.
 */
async function runAndWait(
  ctx: CommandContext,
  conveyor: Conveyor,
  job: EnqueuedJob,
  options: { inProcess: boolean; timeoutMs: number | undefined },
): Promise<number> {
  const worker = options.inProcess ? conveyor.worker({ queues: [job.queue], concurrency: 1 }) : undefined;
  try {
    const result = await waitForResult(ctx, job, options.timeoutMs);
    printResult(ctx, infoOf(job), result);
    return 0;
  } catch (error) {
    if (worker && isConveyorError(error) && error.code === "TIMEOUT" && !conveyor.queue.capabilities.shared) {
      ctx.out.warn(
        `[conveyor:cli] ${maskUrl(conveyor.backends.queue)} is in-process: job ${job.id} stops with this CLI process.`,
      );
    }
    throw error;
  } finally {
    await worker?.close({ drain: false });
  }
}

async function enqueue(ctx: CommandContext, flags: EnqueueFlags, task: string): Promise<number> {
  if (flags.timeout !== undefined && !flags.wait) {
    throw new UsageError(
      "--timeout limits the wait for the result and only applies with --wait. Add --wait, or drop --timeout.",
    );
  }
  const input = await parseInput(flags.input, ctx.cwd);
  return ctx.withPlatform(async (conveyor) => {
    const job = await conveyor.enqueue(task, input, enqueueOptions(flags));
    ctx.job = infoOf(job);
    const backend = maskUrl(conveyor.backends.queue);
    const inProcess = !conveyor.queue.capabilities.shared;
    if (!job.created) ctx.out.info(`a job with id ${job.id} already existed; it was not enqueued again`);
    if (!flags.wait) {
      if (ctx.out.flags.json) ctx.out.json(infoOf(job));
      else ctx.out.line(job.id);
      if (inProcess) {
        ctx.out.warn(
          `[conveyor:cli] ${backend} is in-process: job ${job.id} lives only in this CLI process, and nothing will run it after the CLI exits. Use \`conveyor run ${task}\` (or --wait) to run it here, or a shared backend (--url redis://…) with a \`conveyor worker\` running.`,
        );
      }
      return 0;
    }
    ctx.out.info(`enqueued job ${job.id} (task ${job.task}, queue ${job.queue})`);
    if (inProcess) ctx.out.info(`${backend} is in-process: running the job in this CLI process`);
    return runAndWait(ctx, conveyor, job, { inProcess, timeoutMs: flags.timeout });
  });
}

async function run(ctx: CommandContext, flags: RunFlags, task: string): Promise<number> {
  const input = await parseInput(flags.input, ctx.cwd);
  return ctx.withPlatform(async (conveyor) => {
    const job = await conveyor.enqueue(task, input, enqueueOptions(flags));
    ctx.job = infoOf(job);
    ctx.out.info(`running job ${job.id} (task ${job.task}, queue ${job.queue}) in this process`);
    return runAndWait(ctx, conveyor, job, { inProcess: true, timeoutMs: flags.timeout });
  });
}

const INPUT_HELP = "the job's input as JSON, or @file.json (default: {})";

/** `conveyor enqueue <task>`: validates and enqueues one job; `--wait` waits for its result. */
export function registerEnqueue(program: Command, action: ActionFactory): void {
  program
    .command("enqueue")
    .description("validate and enqueue one job; print its id, or wait for its result with --wait")
    .argument("<task>", "task name, e.g. files.wordCount")
    .option("--input <json>", INPUT_HELP)
    .option("--wait", "wait for the result, showing progress (on memory:// the job runs in this process)")
    .option(
      "--timeout <ms>",
      "with --wait: stop waiting after this many ms (exit 124; the job keeps running)",
      wholeNumber("a time in ms", 0),
    )
    .option("--delay <ms>", "run no earlier than this many ms from now", wholeNumber("a time in ms", 0))
    .option(
      "--priority <n>",
      "higher runs first (default: the task's priority, else 0)",
      wholeNumber("a priority", Number.MIN_SAFE_INTEGER),
    )
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)")
    .addHelpText(
      "after",
      `\nExamples:\n  $ conveyor enqueue files.wordCount --input '{"dir":"./src"}' --url redis://localhost:6379\n  $ conveyor enqueue files.wordCount --input @input.json --wait --timeout 60000 --json`,
    )
    .action(action<EnqueueFlags>((ctx, flags, task) => enqueue(ctx, flags, task!)));
}

/** `conveyor run <task>`: enqueues one job, runs it in this process and prints the result. */
export function registerRun(program: Command, action: ActionFactory): void {
  program
    .command("run")
    .description("enqueue one job, run it in this process (the CLI is the worker) and print its result")
    .argument("<task>", "task name, e.g. files.wordCount")
    .option("--input <json>", INPUT_HELP)
    .option("--timeout <ms>", "stop after this many ms (exit 124)", wholeNumber("a time in ms", 0))
    .option("--job-id <id>", "the job id; an id that exists returns the existing job (dedupe)")
    .option("--queue <name>", "queue to put the job on (default: the task's queue)")
    .addHelpText("after", `\nExample:\n  $ conveyor run files.wordCount --input '{"dir":"."}'`)
    .action(action<RunFlags>((ctx, flags, task) => run(ctx, flags, task!)));
}
