import { JOB_STATES, type JobCounts, type JobRecord, type JobState } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { formatDuration, formatTime } from "../format.js";
import { renderTable } from "../io.js";
import { wholeNumber } from "../options.js";
import { renderProgressBar } from "../progress.js";
import { inProcessCacheHint, knownQueues } from "./control.js";
import type { ActionFactory } from "./types.js";

async function registered(ctx: CommandContext): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const tasks = conveyor.tasks().map((task) => ({
      name: task.name,
      queue: task.queue,
      plugin: task.plugin ?? null,
      description: task.description ?? null,
    }));
    if (ctx.out.flags.json) {
      ctx.out.json(tasks);
      return 0;
    }
    if (tasks.length === 0) {
      ctx.out.info(
        "no task is registered. Add tasks: [...] or plugins: [...] to conveyor.config.ts, or pass --config <file>.",
      );
      return 0;
    }
    ctx.out.line(
      renderTable(
        ["NAME", "QUEUE", "PLUGIN", "DESCRIPTION"],
        tasks.map((task) => [task.name, task.queue, task.plugin ?? "-", task.description ?? ""]),
      ),
    );
    return 0;
  });
}

async function queues(ctx: CommandContext): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const known = await conveyor.queues();
    const paused = new Map(known.map((queue) => [queue.name, queue.paused]));
    // Queues of registered tasks are listed even before they hold a job, so a fresh backend
    // still shows where work would go.
    for (const task of conveyor.tasks()) if (!paused.has(task.queue)) paused.set(task.queue, false);
    const names = [...paused.keys()].sort();
    const rows: { name: string; paused: boolean; counts: JobCounts }[] = [];
    for (const name of names)
      rows.push({ name, paused: paused.get(name) ?? false, counts: await conveyor.counts(name) });
    if (ctx.out.flags.json) {
      ctx.out.json(rows);
      return 0;
    }
    if (rows.length === 0) {
      ctx.out.info("no queue has jobs yet, and no task is registered.");
      return 0;
    }
    ctx.out.line(
      renderTable(
        ["QUEUE", "PAUSED", ...JOB_STATES.map((state) => state.toUpperCase())],
        rows.map((row) => [
          row.name,
          row.paused ? "yes" : "no",
          ...JOB_STATES.map((state) => String(row.counts[state] ?? 0)),
        ]),
      ),
    );
    if (!conveyor.queue.capabilities.shared) {
      ctx.out.info(
        `(${conveyor.backends.queue} is in-process: these are the queues of this CLI process only)`,
      );
    }
    return 0;
  });
}

interface ActiveFlags {
  queue?: string;
  limit?: number;
}

async function active(ctx: CommandContext, flags: ActiveFlags): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const now = Date.now();
    const jobs = await conveyor.listJobs({
      states: ["active"],
      limit: flags.limit ?? 100,
      ...(flags.queue ? { queue: flags.queue } : {}),
    });
    const rows = jobs.map((job) => ({
      id: job.id,
      task: job.task,
      queue: job.queue,
      workerId: job.workerId ?? null,
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      startedAt: job.startedAt ?? null,
      runtimeMs: job.startedAt !== undefined ? now - job.startedAt : null,
      progress: job.progress ?? null,
    }));
    if (ctx.out.flags.json) {
      ctx.out.json(rows);
      return 0;
    }
    if (rows.length === 0) {
      ctx.out.info(`no job is running${flags.queue ? ` in queue ${flags.queue}` : ""}.`);
      return 0;
    }
    ctx.out.line(
      renderTable(
        ["ID", "TASK", "QUEUE", "WORKER", "STARTED", "RUNTIME", "ATTEMPT", "PROGRESS"],
        rows.map((row) => [
          row.id,
          row.task,
          row.queue,
          row.workerId ?? "-",
          formatTime(row.startedAt ?? undefined),
          row.runtimeMs === null ? "-" : formatDuration(row.runtimeMs),
          `${row.attempt}/${row.maxAttempts}`,
          row.progress ? renderProgressBar(row.progress) : "-",
        ]),
      ),
    );
    if (rows.length === (flags.limit ?? 100))
      ctx.out.info(`(the first ${rows.length} shown; raise --limit to see more)`);
    return 0;
  });
}

/** Jobs per state of each queue, totals, and how many finished within the last `windowMs`. */
interface Stats {
  queues: { name: string; paused: boolean; counts: JobCounts }[];
  totals: JobCounts;
  throughput: {
    windowMs: number;
    completed: number;
    failed: number;
    perSecond: number;
    /** The scan stopped at its limit: the real numbers are at least these. */
    capped: boolean;
  };
  workers: { count: number; concurrency: number; active: number };
}

const SCAN_LIMIT = 1_000;

async function finishedSince(
  list: (states: JobState[], offset: number) => Promise<JobRecord[]>,
  state: JobState,
  since: number,
): Promise<{ count: number; capped: boolean }> {
  // Newest first (by creation): a job created before the window can still have finished inside
  // it, so the scan reads pages until a page holds no job finished in the window.
  let count = 0;
  for (let offset = 0; offset < SCAN_LIMIT; offset += 200) {
    const page = await list([state], offset);
    const inWindow = page.filter((job) => (job.finishedAt ?? 0) >= since).length;
    count += inWindow;
    if (page.length < 200 || inWindow === 0) return { count, capped: false };
  }
  return { count, capped: true };
}

async function stats(ctx: CommandContext, flags: { window?: number }): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const windowMs = flags.window ?? 60_000;
    const since = Date.now() - windowMs;
    const totals = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as JobCounts;
    const queues: Stats["queues"] = [];
    let completed = 0;
    let failed = 0;
    let capped = false;
    for (const queue of await knownQueues(conveyor)) {
      const counts = await conveyor.counts(queue.name);
      queues.push({ ...queue, counts });
      for (const state of JOB_STATES) totals[state] += counts[state] ?? 0;
      const list = (states: JobState[], offset: number) =>
        conveyor.listJobs({ queue: queue.name, states, offset, limit: 200 });
      const done = await finishedSince(list, "completed", since);
      const lost = await finishedSince(list, "failed", since);
      completed += done.count;
      failed += lost.count;
      capped ||= done.capped || lost.capped;
    }
    const workers = await conveyor.workers();
    const result: Stats = {
      queues,
      totals,
      throughput: {
        windowMs,
        completed,
        failed,
        perSecond: Math.round(((completed + failed) / (windowMs / 1_000)) * 100) / 100,
        capped,
      },
      workers: {
        count: workers.length,
        concurrency: workers.reduce((sum, worker) => sum + worker.concurrency, 0),
        active: workers.reduce((sum, worker) => sum + worker.active, 0),
      },
    };
    if (ctx.out.flags.json) {
      ctx.out.json(result);
      return 0;
    }
    const states = JOB_STATES.map((state) => state.toUpperCase());
    ctx.out.line(
      renderTable(
        ["QUEUE", "PAUSED", ...states],
        [
          ...queues.map((queue) => [
            queue.name,
            queue.paused ? "yes" : "no",
            ...JOB_STATES.map((state) => String(queue.counts[state] ?? 0)),
          ]),
          ["(all)", "", ...JOB_STATES.map((state) => String(totals[state]))],
        ],
      ),
    );
    const more = capped ? "at least " : "";
    ctx.out.line("");
    ctx.out.line(
      `last ${formatDuration(windowMs)}: ${more}${completed} completed, ${more}${failed} failed (${more}${result.throughput.perSecond} jobs/s)`,
    );
    ctx.out.line(
      `workers: ${result.workers.count} live, ${result.workers.active}/${result.workers.concurrency} slots busy`,
    );
    if (workers.length === 0) inProcessCacheHint(ctx, conveyor);
    return 0;
  });
}

async function workers(ctx: CommandContext): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const now = Date.now();
    const list = await conveyor.workers();
    if (ctx.out.flags.json) {
      ctx.out.json(list);
      return 0;
    }
    if (list.length === 0) {
      ctx.out.info("no worker has a live heartbeat.");
      inProcessCacheHint(ctx, conveyor);
      return 0;
    }
    ctx.out.line(
      renderTable(
        ["ID", "HOST", "PID", "QUEUES", "CONCURRENCY", "ACTIVE", "HEARTBEAT", "UPTIME"],
        list.map((worker) => [
          worker.id,
          worker.host,
          String(worker.pid),
          worker.queues.join(","),
          worker.autoscale
            ? `${worker.concurrency} (${worker.autoscale.min}-${worker.autoscale.max})`
            : String(worker.concurrency),
          String(worker.active),
          `${formatDuration(now - worker.lastHeartbeatAt)} ago`,
          formatDuration(now - worker.startedAt),
        ]),
      ),
    );
    return 0;
  });
}

/** `conveyor inspect registered|queues|active|stats|workers` (`scheduled` comes from schedule.ts). */
export function registerInspect(program: Command, action: ActionFactory): void {
  const inspect = program
    .command("inspect")
    .description("inspect the registered tasks, queues, running jobs, workers and schedules");
  inspect
    .command("registered")
    .description("list the registered tasks: name, queue, plugin, description")
    .addHelpText("after", "\nExample:\n  $ conveyor inspect registered --json")
    .action(action<object>((ctx) => registered(ctx)));
  inspect
    .command("queues")
    .description("list the queues with their job counts by state and paused flag")
    .addHelpText("after", "\nExample:\n  $ conveyor inspect queues --url redis://localhost:6379")
    .action(action<object>((ctx) => queues(ctx)));
  inspect
    .command("active")
    .description("list running jobs: id, task, queue, worker, started, runtime, attempt, progress")
    .option("--queue <name>", "only this queue")
    .option("--limit <n>", "at most this many jobs (default 100)", wholeNumber("a job count", 1))
    .addHelpText(
      "after",
      "\nExample:\n  $ conveyor inspect active --queue default --url redis://localhost:6379",
    )
    .action(action<ActiveFlags>((ctx, flags) => active(ctx, flags)));
  inspect
    .command("stats")
    .description("job counts per queue and state, jobs finished in the last minute, worker slots")
    .option(
      "--window <ms>",
      "throughput window: count jobs finished this long ago or later (default 60000)",
      wholeNumber("a time in ms", 1),
    )
    .addHelpText("after", "\nExample:\n  $ conveyor inspect stats --json")
    .action(action<{ window?: number }>((ctx, flags) => stats(ctx, flags)));
  inspect
    .command("workers")
    .description("list live workers: id, host, pid, queues, concurrency, active jobs, last heartbeat, uptime")
    .addHelpText("after", "\nExample:\n  $ conveyor inspect workers --url redis://localhost:6379")
    .action(action<object>((ctx) => workers(ctx)));
}
