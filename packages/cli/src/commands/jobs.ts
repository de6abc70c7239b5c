import {
  type Conveyor,
  ConveyorError,
  isConveyorError,
  JobNotFoundError,
  type JobRecord,
  maskUrl,
  TERMINAL_STATES,
} from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { wholeNumber } from "../options.js";
import { renderProgressBar } from "../progress.js";
import { printResult, waitForResult } from "../wait.js";
import type { ActionFactory } from "./types.js";

const time = (epochMs: number | undefined) => (epochMs === undefined ? "-" : new Date(epochMs).toISOString());

/** Reads a job; on an in-process backend a missing job gets a warning that says why. */
async function getJob(ctx: CommandContext, conveyor: Conveyor, id: string): Promise<JobRecord> {
  try {
    return await conveyor.job(id).get();
  } catch (error) {
    if (isConveyorError(error) && error.code === "JOB_NOT_FOUND") inProcessHint(ctx, conveyor);
    throw error;
  }
}

function inProcessHint(ctx: CommandContext, conveyor: Conveyor): void {
  if (!conveyor.queue.capabilities.shared) {
    ctx.out.warn(
      `[conveyor:cli] ${maskUrl(conveyor.backends.queue)} is in-process: a new CLI process never sees jobs of another process. Use a shared backend (--url redis://…) to look jobs up by id.`,
    );
  }
}

async function status(ctx: CommandContext, id: string): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    ctx.job = { id };
    const record = await getJob(ctx, conveyor, id);
    ctx.job = { id: record.id, queue: record.queue, task: record.task };
    if (ctx.out.flags.json) {
      ctx.out.json(record);
      return 0;
    }
    const rows: [string, string][] = [
      ["id", record.id],
      ["task", record.task],
      ["queue", record.queue],
      ["state", record.state],
      ["attempt", `${record.attempt}/${record.maxAttempts}`],
      ["progress", record.progress ? renderProgressBar(record.progress) : "-"],
      ["created", time(record.createdAt)],
    ];
    if (record.state === "delayed" || record.state === "retrying" || record.runAt > record.createdAt)
      rows.push(["run at", time(record.runAt)]);
    rows.push(["started", time(record.startedAt)], ["finished", time(record.finishedAt)]);
    if (record.workerId) rows.push(["worker", record.workerId]);
    if (record.error)
      rows.push(["error", `${record.error.name}: ${record.error.message} (attempt ${record.error.attempt})`]);
    const width = Math.max(...rows.map(([key]) => key.length));
    for (const [key, value] of rows) ctx.out.line(`${key.padEnd(width)}  ${value}`);
    return 0;
  });
}

interface ResultFlags {
  wait?: boolean;
  timeout?: number;
}

async function result(ctx: CommandContext, flags: ResultFlags, id: string): Promise<number> {
  if (flags.timeout !== undefined && !flags.wait) {
    throw new UsageError(
      "--timeout limits the wait and only applies with --wait. Add --wait, or drop --timeout.",
    );
  }
  return ctx.withPlatform(async (conveyor) => {
    ctx.job = { id };
    const record = await getJob(ctx, conveyor, id);
    const info = { id: record.id, queue: record.queue, task: record.task };
    ctx.job = info;
    if (!flags.wait && !TERMINAL_STATES.includes(record.state)) {
      throw new ConveyorError(
        "NOT_FINISHED",
        `job ${id} is ${record.state} and has no result yet. Wait for it with \`conveyor result ${id} --wait\`.`,
        { scope: "cli", details: { jobId: id, state: record.state } },
      );
    }
    const value = await waitForResult(ctx, conveyor.job(id), flags.timeout);
    printResult(ctx, info, value);
    return 0;
  });
}

interface RetryFlags {
  failed?: boolean;
  queue?: string;
  limit?: number;
}

async function retry(ctx: CommandContext, flags: RetryFlags, id: string | undefined): Promise<number> {
  if (flags.failed && id !== undefined)
    throw new UsageError(
      `give a job id or --failed, not both. Run \`conveyor retry ${id}\` or \`conveyor retry --failed\`.`,
    );
  if (!flags.failed && (flags.queue !== undefined || flags.limit !== undefined))
    throw new UsageError(
      "--queue and --limit select failed jobs and only apply with --failed. Add --failed.",
    );
  if (flags.failed) return retryFailed(ctx, flags);
  if (id === undefined)
    throw new UsageError(
      "name the job to retry (`conveyor retry <id>`), or retry every failed job with --failed.",
    );
  return ctx.withPlatform(async (conveyor) => {
    ctx.job = { id };
    await getJob(ctx, conveyor, id);
    const record = await conveyor.retry(id);
    ctx.job = { id: record.id, queue: record.queue, task: record.task };
    if (ctx.out.flags.json)
      ctx.out.json({ id: record.id, queue: record.queue, task: record.task, state: record.state });
    else ctx.out.line(`job ${record.id} is ${record.state} again with a fresh attempt budget`);
    return 0;
  });
}

/** Retries failed jobs page by page; a job that fails again during the run is not retried twice. */
async function retryFailed(ctx: CommandContext, flags: RetryFlags): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const limit = flags.limit ?? Number.POSITIVE_INFINITY;
    const seen = new Set<string>();
    const retried: { id: string; queue: string; task: string }[] = [];
    const skipped: { id: string; reason: string }[] = [];
    let offset = 0;
    while (retried.length < limit) {
      const page = await conveyor.listJobs({
        states: ["failed"],
        limit: 200,
        offset,
        ...(flags.queue ? { queue: flags.queue } : {}),
      });
      const fresh = page.filter((job) => !seen.has(job.id));
      if (fresh.length === 0) {
        // A page of jobs seen already (retried, then failed again): look past it.
        if (page.length < 200) break;
        offset += page.length;
        continue;
      }
      for (const job of fresh) {
        if (retried.length >= limit) break;
        seen.add(job.id);
        try {
          const record = await conveyor.retry(job.id);
          retried.push({ id: record.id, queue: record.queue, task: record.task });
        } catch (error) {
          // Another process may have retried or removed it since the page was read.
          if (!isConveyorError(error) || (error.code !== "JOB_STATE" && error.code !== "JOB_NOT_FOUND"))
            throw error;
          skipped.push({ id: job.id, reason: error.message });
        }
      }
    }
    if (ctx.out.flags.json) ctx.out.json({ retried, skipped: skipped.length });
    else {
      ctx.out.line(
        `${retried.length} failed job(s) moved back to waiting${flags.queue ? ` in queue ${flags.queue}` : ""}${skipped.length ? ` (${skipped.length} changed meanwhile, left alone)` : ""}`,
      );
      if (!ctx.out.flags.quiet)
        for (const job of retried) ctx.out.info(`  ${job.id}  ${job.task}  ${job.queue}`);
    }
    return 0;
  });
}

const CANCEL_TEXT = {
  cancelled: "was cancelled",
  requested: "is running; its task was told to stop (ctx.signal) and the job will end cancelled",
  finished: "had already finished; nothing changed",
} as const;

async function cancel(ctx: CommandContext, id: string): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    ctx.job = { id };
    const outcome = await conveyor.cancel(id);
    if (outcome === "not-found") {
      if (!conveyor.queue.capabilities.shared) inProcessHint(ctx, conveyor);
      throw new JobNotFoundError(id);
    }
    if (ctx.out.flags.json) ctx.out.json({ id, outcome });
    else ctx.out.line(`job ${id} ${CANCEL_TEXT[outcome]}`);
    return 0;
  });
}

/** `conveyor status|result|retry|cancel <id>`. */
export function registerJobCommands(program: Command, action: ActionFactory): void {
  program
    .command("status")
    .description("show a job's state, attempts, progress, times and error")
    .argument("<id>", "job id")
    .addHelpText("after", "\nExample:\n  $ conveyor status 6f1c… --url redis://localhost:6379 --json")
    .action(action<object>((ctx, _flags, id) => status(ctx, id!)));

  program
    .command("result")
    .description("print a finished job's result (exit 1 if it failed, 124 if it has not finished)")
    .argument("<id>", "job id")
    .option("--wait", "wait for the job to finish, showing progress")
    .option(
      "--timeout <ms>",
      "with --wait: stop waiting after this many ms (exit 124)",
      wholeNumber("a time in ms", 0),
    )
    .addHelpText(
      "after",
      "\nExample:\n  $ conveyor result 6f1c… --wait --timeout 60000 --url redis://localhost:6379",
    )
    .action(action<ResultFlags>((ctx, flags, id) => result(ctx, flags, id!)));

  program
    .command("retry")
    .description(
      "move a failed or cancelled job (or every failed one) back to waiting with a fresh attempt budget",
    )
    .argument("[id]", "job id")
    .option("--failed", "retry every failed job (of --queue, else of every queue)")
    .option("--queue <name>", "with --failed: only this queue")
    .option("--limit <n>", "with --failed: at most this many jobs", wholeNumber("a job count", 1))
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor retry 6f1c… --url redis://localhost:6379\n  $ conveyor retry --failed --queue default --json",
    )
    .action(action<RetryFlags>((ctx, flags, id) => retry(ctx, flags, id)));

  program
    .command("cancel")
    .description("cancel a job: a waiting one at once, a running one through its task's ctx.signal")
    .argument("<id>", "job id")
    .action(action<object>((ctx, _flags, id) => cancel(ctx, id!)));
}
