import { maskUrl } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { keepAlive } from "../io.js";
import { commaList, wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

interface WorkerFlags {
  queues?: string[];
  concurrency?: number;
}

async function worker(ctx: CommandContext, flags: WorkerFlags): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const running = conveyor.worker({
      ...(flags.queues ? { queues: flags.queues } : {}),
      ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
      handleSignals: true,
    });
    const tasks = conveyor.tasks().map((task) => task.name);
    const backend = maskUrl(conveyor.backends.queue);
    if (ctx.out.flags.json) {
      ctx.out.line(
        JSON.stringify({
          event: "started",
          worker: running.id,
          backend,
          queues: running.queues,
          concurrency: running.concurrency,
          tasks,
        }),
      );
    } else {
      ctx.out.info(
        [
          `conveyor worker ${running.id} started`,
          `  queue backend  ${backend}`,
          `  queues         ${running.queues.join(", ")}`,
          `  concurrency    ${running.concurrency}`,
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
    try {
      await running.closed;
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
      release();
    }
    if (ctx.out.flags.json) ctx.out.line(JSON.stringify({ event: "stopped", worker: running.id }));
    else ctx.out.info(`conveyor worker ${running.id} stopped`);
    return 0;
  });
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
      "jobs run at once (default: the config's worker.concurrency, else 1)",
      wholeNumber("a job count", 1),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor worker\n  $ conveyor worker --queues default,fast --concurrency 8 --url redis://localhost:6379",
    )
    .action(action<WorkerFlags>((ctx, flags) => worker(ctx, flags)));
}
