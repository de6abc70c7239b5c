import { ConveyorError, type JobEvent, type JobHandle } from "@conveyor/core";
import type { CommandContext } from "./context.js";
import { keepAlive } from "./io.js";
import { createProgressDisplay, type ProgressDisplay } from "./progress.js";

/** What is known about the job whose result is printed. */
export interface JobInfo {
  id: string;
  queue?: string;
  task?: string;
  created?: boolean;
}

const time = (epochMs: number | undefined) => (epochMs === undefined ? "" : new Date(epochMs).toISOString());

function describe(event: JobEvent, display: ProgressDisplay): void {
  switch (event.type) {
    case "progress":
      if (event.progress) display.update(event.progress);
      return;
    case "active":
      display.note(`job ${event.jobId} started (attempt ${event.attempt ?? 1})`);
      return;
    case "retrying":
      display.note(
        `job ${event.jobId} attempt ${event.attempt ?? "?"} failed${event.error ? `: ${event.error.name}: ${event.error.message}` : ""}; retrying at ${time(event.runAt)}`,
      );
      return;
    case "delayed":
      display.note(`job ${event.jobId} is delayed until ${time(event.runAt)}`);
      return;
    case "stalled":
      display.note(`job ${event.jobId} stalled (its worker stopped answering); it will run again`);
      return;
    default:
      return;
  }
}

/**
 * Waits for a job's result while showing its progress on stderr (a bar on a terminal, plain
 * lines otherwise), then prints the result. Throws what `job.result()` throws.
 */
export async function waitForResult(
  ctx: CommandContext,
  job: JobHandle,
  timeoutMs: number | undefined,
): Promise<unknown> {
  const display = ctx.out.flags.quiet ? undefined : createProgressDisplay(ctx.out.stderr);
  const stop = new AbortController();
  const release = keepAlive();
  const follow = display
    ? (async () => {
        try {
          for await (const event of job.events({ signal: stop.signal })) describe(event, display);
        } catch (error) {
          if (!stop.signal.aborted)
            ctx.out.warn(
              `[conveyor:cli] could not follow the job's progress: ${(error as Error)?.message ?? error}`,
            );
        }
      })()
    : Promise.resolve();
  try {
    return await job.result({
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (error) {
    if (ctx.signal?.aborted) {
      throw new ConveyorError(
        "INTERRUPTED",
        `stopped waiting for job ${job.id}. Check it later with \`conveyor status ${job.id}\`.`,
        {
          scope: "cli",
          cause: error,
        },
      );
    }
    throw error;
  } finally {
    stop.abort();
    release();
    await follow;
    display?.done();
  }
}

/** Prints a completed job's result: the bare value (strings as they are), or a JSON document with `--json`. */
export function printResult(ctx: CommandContext, info: JobInfo, result: unknown): void {
  if (ctx.out.flags.json) {
    ctx.out.json({ ...info, state: "completed", result: result ?? null });
    return;
  }
  if (result === undefined) return;
  ctx.out.line(typeof result === "string" ? result : JSON.stringify(result, null, 2));
}
