import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { type AutoscaleOptions, loadConfig, maskUrl, type WorkerConcurrency } from "@conveyor/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { EXIT_CODES } from "../errors.js";
import { keepAlive } from "../io.js";
import { commaList, wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

interface WorkerFlags {
  queues?: string[];
  concurrency?: WorkerConcurrency;
  maxJobsPerProcess?: number;
  maxMemoryPerProcessMb?: number;
}

/** Set in the env of a worker process started by a supervising `conveyor worker`. */
const CHILD_ENV = "CONVEYOR_WORKER_CHILD";

/** `--concurrency 8` (fixed) or `--concurrency 2-8` (autoscale between 2 and 8). */
function concurrencyFlag(value: string): WorkerConcurrency {
  const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
  if (!range) return wholeNumber("a job count, or a range min-max such as 2-8", 1)(value);
  const autoscale: AutoscaleOptions = { min: Number(range[1]), max: Number(range[2]) };
  if (autoscale.max < 1 || autoscale.min > autoscale.max)
    throw new InvalidArgumentError(
      `must be a range min-max with 0 <= min <= max and max >= 1, got ${value.trim()}.`,
    );
  return autoscale;
}

function describeConcurrency(worker: {
  concurrency: number;
  autoscale: { min: number; max: number } | undefined;
}) {
  return worker.autoscale
    ? `${worker.concurrency} (autoscale ${worker.autoscale.min}-${worker.autoscale.max})`
    : String(worker.concurrency);
}

async function work(ctx: CommandContext, flags: WorkerFlags): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const running = conveyor.worker({
      ...(flags.queues ? { queues: flags.queues } : {}),
      ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
      ...(flags.maxJobsPerProcess !== undefined ? { maxJobsPerProcess: flags.maxJobsPerProcess } : {}),
      ...(flags.maxMemoryPerProcessMb !== undefined
        ? { maxMemoryPerProcessMb: flags.maxMemoryPerProcessMb }
        : {}),
      handleSignals: true,
    });
    const tasks = conveyor.tasks().map((task) => task.name);
    const backend = maskUrl(conveyor.backends.queue);
    if (ctx.out.flags.json) {
      ctx.out.line(
        JSON.stringify({
          event: "started",
          worker: running.id,
          pid: process.pid,
          backend,
          queues: running.queues,
          concurrency: running.concurrency,
          ...(running.autoscale ? { autoscale: running.autoscale } : {}),
          tasks,
        }),
      );
    } else {
      ctx.out.info(
        [
          `conveyor worker ${running.id} started`,
          `  queue backend  ${backend}`,
          `  queues         ${running.queues.join(", ")}`,
          `  concurrency    ${describeConcurrency(running)}`,
          `  tasks          ${tasks.length ? tasks.join(", ") : "(none registered: jobs of unknown tasks fail)"}`,
          "Stop with Ctrl-C or SIGTERM: running jobs finish first (a second signal stops at once).",
        ].join("\n"),
      );
    }
    if (!conveyor.queue.capabilities.shared) {
      ctx.out.warn(
        `[conveyor:cli] ${backend} is in-process: this worker only runs jobs enqueued inside this process, and \`conveyor enqueue\` from another shell cannot reach it. Use \`conveyor run <task>\` to run a job here, or a shared backend (--url redis://…).`,
      );
    }
    const release = keepAlive();
    const onAbort = () => void running.close({ drain: true });
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal?.aborted) onAbort();
    // A supervised child whose supervisor went away drains and ends instead of running orphaned.
    const supervised = ctx.env[CHILD_ENV] === "1" && typeof process.send === "function";
    if (supervised) process.once("disconnect", onAbort);
    let exit: Awaited<typeof running.closed>;
    try {
      exit = await running.closed;
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
      if (supervised) process.off("disconnect", onAbort);
      release();
    }
    const recycled = exit.reason === "recycle" ? exit.recycle : undefined;
    if (ctx.out.flags.json) {
      ctx.out.line(
        JSON.stringify({
          event: recycled ? "recycled" : "stopped",
          worker: running.id,
          pid: process.pid,
          processed: running.processed,
          ...(recycled ? { limit: recycled.limit, rssMb: recycled.rssMb } : {}),
        }),
      );
    } else if (recycled) {
      ctx.out.info(
        `conveyor worker ${running.id} recycled after ${running.processed} jobs (${recycled.limit === "jobs" ? "--max-jobs-per-process" : `--max-memory-per-process-mb, rss ${recycled.rssMb} MiB`})`,
      );
    } else ctx.out.info(`conveyor worker ${running.id} stopped`);
    return recycled && ctx.env[CHILD_ENV] === "1" ? EXIT_CODES.recycled : EXIT_CODES.ok;
  });
}

/** The built `conveyor` bin that a supervisor starts its worker processes with. */
function workerBin(): string | undefined {
  const here = import.meta.url;
  for (const candidate of ["./bin.js", "../../dist/bin.js"]) {
    const file = fileURLToPath(new URL(candidate, here));
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Runs `conveyor worker` in child processes, one at a time, and starts a fresh one whenever the
 * current one exits recycled (exit code 75). SIGTERM/SIGINT (or the CLI's abort signal) is passed
 * on to the child, which drains; a second one makes it stop at once. Any other exit of the child
 * ends the supervisor with the child's exit code.
 */
async function supervise(ctx: CommandContext, bin: string): Promise<number> {
  const out = ctx.io.stdout ?? process.stdout;
  const err = ctx.io.stderr ?? process.stderr;
  let child: ChildProcess | undefined;
  let stopping = false;
  const stop = () => {
    stopping = true;
    child?.kill("SIGTERM");
  };
  const onSignal = () => stop();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  ctx.signal?.addEventListener("abort", stop, { once: true });
  let generation = 0;
  try {
    while (!stopping && !ctx.signal?.aborted) {
      generation += 1;
      // Its own process group: a Ctrl-C in the terminal reaches only the supervisor, which passes
      // on one SIGTERM (two would stop the child without draining).
      const started = spawn(process.execPath, [bin, ...ctx.argv], {
        cwd: ctx.cwd,
        env: { ...ctx.env, [CHILD_ENV]: "1" },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        detached: true,
      });
      child = started;
      started.stdout!.setEncoding("utf8").on("data", (chunk: string) => out.write(chunk));
      started.stderr!.setEncoding("utf8").on("data", (chunk: string) => err.write(chunk));
      const code = await new Promise<number>((resolve) => {
        started.on("error", (error) => {
          err.write(`[conveyor:cli] could not start a worker process: ${error.message}\n`);
          resolve(EXIT_CODES.backend);
        });
        started.on("close", (exitCode, signal) =>
          resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 15) : 0)),
        );
      });
      child = undefined;
      if (code !== EXIT_CODES.recycled) return code;
      if (stopping) return EXIT_CODES.ok;
      if (ctx.out.flags.json)
        ctx.out.line(JSON.stringify({ event: "restarting", generation: generation + 1 }));
      else ctx.out.info(`conveyor worker process ${generation} recycled; starting a fresh one`);
    }
    return EXIT_CODES.ok;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    ctx.signal?.removeEventListener("abort", stop);
  }
}

async function worker(ctx: CommandContext, flags: WorkerFlags): Promise<number> {
  if (ctx.env[CHILD_ENV] !== "1") {
    const config = await loadConfig({
      cwd: ctx.cwd,
      ...(ctx.globals.config ? { file: ctx.globals.config } : {}),
    });
    const recycles =
      (flags.maxJobsPerProcess ?? config.worker?.maxJobsPerProcess) !== undefined ||
      (flags.maxMemoryPerProcessMb ?? config.worker?.maxMemoryPerProcessMb) !== undefined;
    const bin = recycles ? workerBin() : undefined;
    if (bin) return supervise(ctx, bin);
  }
  return work(ctx, flags);
}

/** `conveyor worker`: runs the registered tasks until SIGTERM/SIGINT. */
export function registerWorker(program: Command, action: ActionFactory): void {
  program
    .command("worker")
    .description("run a worker for the registered tasks until SIGTERM or Ctrl-C (drains running jobs first)")
    .option(
      "--queues <names>",
      "queues to consume, comma-separated (default: every queue of the registered tasks)",
      commaList,
    )
    .option(
      "--concurrency <n>",
      "jobs run at once; a range such as 2-8 autoscales by queue depth (default: the config's worker.concurrency, else 1)",
      concurrencyFlag,
    )
    .option(
      "--max-jobs-per-process <n>",
      "recycle: after n jobs the worker drains and a fresh process replaces it (Celery's --max-tasks-per-child)",
      wholeNumber("a job count", 1),
    )
    .option(
      "--max-memory-per-process-mb <n>",
      "recycle: once the process's resident memory passes n MiB after a job, a fresh process replaces it",
      wholeNumber("a size in MiB", 1),
    )
    .addHelpText(
      "after",
      [
        "",
        "With --max-jobs-per-process or --max-memory-per-process-mb (flag or config), this command supervises:",
        "it runs the worker in a child process and starts a fresh one each time the child recycles.",
        "",
        "Examples:",
        "  $ conveyor worker",
        "  $ conveyor worker --queues default,fast --concurrency 8 --url redis://localhost:6379",
        "  $ conveyor worker --concurrency 2-16 --max-jobs-per-process 500",
      ].join("\n"),
    )
    .action(action<WorkerFlags>((ctx, flags) => worker(ctx, flags)));
}
