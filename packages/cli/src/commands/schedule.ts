import {
  type Conveyor,
  createScheduler,
  loadConfig,
  type MissedTickPolicy,
  maskUrl,
  type ScheduleDefinition,
  type ScheduleRecord,
  type Scheduler,
} from "@conveyor/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { renderTable } from "../io.js";
import { parseInput, wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A commander parser for a duration: `500ms`, `30s`, `5m`, `1h`, `1d`, or a number of ms. */
export function duration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? "ms"]! : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new InvalidArgumentError("must be a duration such as 500ms, 30s, 5m, 1h or 1d.");
  return ms;
}

function missedPolicy(value: string): MissedTickPolicy {
  if (value === "skip") return "skip";
  if (value === "catch-up" || value === "catchUp") return "catchUp";
  throw new InvalidArgumentError('must be "skip" or "catch-up".');
}

const time = (epochMs: number | undefined) => (epochMs === undefined ? "-" : new Date(epochMs).toISOString());

function every(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const)
    if (ms % UNITS[unit]! === 0) return `${ms / UNITS[unit]!}${unit}`;
  return `${ms}ms`;
}

/** How a schedule fires, in one cell: `cron 0 9 * * * (Europe/Paris)` or `every 5m`. */
function when(schedule: ScheduleDefinition): string {
  if (schedule.everyMs !== undefined) return `every ${every(schedule.everyMs)}`;
  return `cron ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : " (UTC)"}`;
}

function scheduleTable(schedules: readonly ScheduleRecord[]): string {
  return renderTable(
    ["NAME", "TASK", "WHEN", "NEXT RUN", "LAST RUN", "MISSED", "LAST ERROR"],
    schedules.map((s) => [
      s.name,
      s.task,
      when(s),
      time(s.nextRunAt),
      time(s.lastRunAt),
      s.missed === "catchUp" ? "catch-up" : "skip",
      s.lastError ?? "",
    ]),
  );
}

/** Says so when schedules live in the CLI process only (an in-process backend). */
function localHint(ctx: CommandContext, conveyor: Conveyor, scheduler: Scheduler): void {
  if (!scheduler.shared || !conveyor.queue.capabilities.shared) {
    ctx.out.warn(
      `[conveyor:cli] ${maskUrl(conveyor.backends.queue)} keeps no schedules across processes: this command only sees the schedules of its own process. Use a shared backend (--url disk://./.conveyor or redis://…).`,
    );
  }
}

async function list(ctx: CommandContext): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const scheduler = createScheduler(conveyor);
    const schedules = await scheduler.list();
    if (ctx.out.flags.json) {
      ctx.out.json(schedules);
      return 0;
    }
    localHint(ctx, conveyor, scheduler);
    if (schedules.length === 0) {
      ctx.out.info(
        "no schedule is stored. Add one with `conveyor schedule add`, or declare schedules: [...] in conveyor.config.ts and start `conveyor scheduler`.",
      );
      return 0;
    }
    ctx.out.line(scheduleTable(schedules));
    return 0;
  });
}

interface AddFlags {
  task: string;
  cron?: string;
  tz?: string;
  every?: number;
  input?: string;
  queue?: string;
  missed?: MissedTickPolicy;
  priority?: number;
  retries?: number;
}

async function add(ctx: CommandContext, flags: AddFlags, name: string): Promise<number> {
  if ((flags.cron === undefined) === (flags.every === undefined))
    throw new UsageError("give exactly one of --cron <pattern> and --every <duration>.");
  if (flags.tz !== undefined && flags.cron === undefined)
    throw new UsageError("--tz applies to --cron schedules only. Drop it, or use --cron.");
  const input = flags.input === undefined ? undefined : await parseInput(flags.input, ctx.cwd);
  const jobOptions = {
    ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
    ...(flags.retries !== undefined ? { retries: flags.retries } : {}),
  };
  const definition: ScheduleDefinition = {
    name,
    task: flags.task,
    ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
    ...(input !== undefined ? { input } : {}),
    ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
    ...(flags.tz !== undefined ? { timezone: flags.tz } : {}),
    ...(flags.every !== undefined ? { everyMs: flags.every } : {}),
    ...(flags.missed !== undefined ? { missed: flags.missed } : {}),
    ...(Object.keys(jobOptions).length > 0 ? { jobOptions } : {}),
  };
  return ctx.withPlatform(async (conveyor) => {
    const scheduler = createScheduler(conveyor);
    const result = await scheduler.add(definition);
    if (ctx.out.flags.json) {
      ctx.out.json(result);
      return 0;
    }
    localHint(ctx, conveyor, scheduler);
    ctx.out.line(`schedule ${name} ${result.status}; next run ${time(result.schedule.nextRunAt)}`);
    return 0;
  });
}

async function remove(ctx: CommandContext, name: string): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const scheduler = createScheduler(conveyor);
    const removed = await scheduler.remove(name);
    if (!removed) {
      localHint(ctx, conveyor, scheduler);
      throw new UsageError(`no schedule is named "${name}". See the names with \`conveyor schedule list\`.`);
    }
    if (ctx.out.flags.json) ctx.out.json({ name, removed });
    else ctx.out.line(`schedule ${name} removed`);
    return 0;
  });
}

async function scheduled(ctx: CommandContext): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const scheduler = createScheduler(conveyor);
    const [schedules, leader, delayed] = await Promise.all([
      scheduler.list(),
      scheduler.leader(),
      conveyor.listJobs({ states: ["delayed", "retrying"], limit: 100 }),
    ]);
    const jobs = delayed
      .map((job) => ({ id: job.id, task: job.task, queue: job.queue, state: job.state, runAt: job.runAt }))
      .sort((a, b) => a.runAt - b.runAt);
    if (ctx.out.flags.json) {
      ctx.out.json({ leader: leader ?? null, schedules, jobs });
      return 0;
    }
    localHint(ctx, conveyor, scheduler);
    ctx.out.line(
      leader
        ? `scheduler leader: ${leader.owner} (token ${leader.token}, lease until ${time(leader.expiresAt)})`
        : "scheduler leader: none (no scheduler runs: start one with `conveyor scheduler`)",
    );
    ctx.out.line("");
    ctx.out.line(schedules.length ? scheduleTable(schedules) : "no schedules");
    ctx.out.line("");
    ctx.out.line(
      jobs.length
        ? renderTable(
            ["JOB", "TASK", "QUEUE", "STATE", "RUN AT"],
            jobs.map((job) => [job.id, job.task, job.queue, job.state, time(job.runAt)]),
          )
        : "no delayed or retrying jobs",
    );
    return 0;
  });
}

interface SchedulerFlags {
  leaseMs?: number;
  pollMs?: number;
  graceMs?: number;
}

async function runScheduler(ctx: CommandContext, flags: SchedulerFlags): Promise<number> {
  const config = await loadConfig({
    cwd: ctx.cwd,
    ...(ctx.globals.config ? { file: ctx.globals.config } : {}),
  });
  return ctx.withPlatform(async (conveyor) => {
    const scheduler = createScheduler(conveyor, {
      schedules: config.schedules ?? [],
      ...(flags.leaseMs !== undefined ? { leaseMs: flags.leaseMs } : {}),
      ...(flags.pollMs !== undefined ? { pollIntervalMs: flags.pollMs } : {}),
      ...(flags.graceMs !== undefined ? { graceMs: flags.graceMs } : {}),
    });
    await scheduler.start();
    const names = (await scheduler.list()).map((s) => s.name);
    const backend = maskUrl(conveyor.backends.queue);
    if (ctx.out.flags.json) {
      ctx.out.line(JSON.stringify({ event: "started", scheduler: scheduler.id, backend, schedules: names }));
    } else {
      ctx.out.info(
        [
          `conveyor scheduler ${scheduler.id} started`,
          `  queue backend  ${backend}`,
          `  schedules      ${names.length ? names.join(", ") : "(none yet: add them with `conveyor schedule add`)"}`,
          "One scheduler leads at a time; run one next to each worker for failover. Stop with Ctrl-C or SIGTERM.",
        ].join("\n"),
      );
    }
    localHint(ctx, conveyor, scheduler);
    const stop = () => void scheduler.close();
    ctx.signal?.addEventListener("abort", stop, { once: true });
    if (ctx.signal?.aborted) stop();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    try {
      await scheduler.closed;
    } finally {
      ctx.signal?.removeEventListener("abort", stop);
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
    }
    if (ctx.out.flags.json) ctx.out.line(JSON.stringify({ event: "stopped", scheduler: scheduler.id }));
    else ctx.out.info(`conveyor scheduler ${scheduler.id} stopped`);
    return 0;
  });
}

/**
 * `conveyor schedule list|add|remove`, `conveyor scheduler` and `conveyor inspect scheduled`
 * (added to the `inspect` command when it exists, so register this after it).
 */
export function registerSchedule(program: Command, action: ActionFactory): void {
  const schedule = program
    .command("schedule")
    .description("manage periodic tasks stored in the backend (run them with `conveyor scheduler`)");
  schedule
    .command("list")
    .description("list the schedules with their next and last runs")
    .addHelpText("after", "\nExample:\n  $ conveyor schedule list --url redis://localhost:6379")
    .action(action<object>((ctx) => list(ctx)));
  schedule
    .command("add <name>")
    .description("add a schedule, or replace the one with that name (the same definition changes nothing)")
    .requiredOption("--task <name>", "the registered task to enqueue")
    .option("--cron <pattern>", 'a cron pattern, 5 fields or 6 with seconds, e.g. "0 9 * * 1-5"')
    .option("--tz <zone>", "IANA time zone of the cron pattern (default: UTC)")
    .option("--every <duration>", "a fixed interval: 500ms, 30s, 5m, 1h, 1d", duration)
    .option("--input <json>", "the job input as JSON, or @file.json")
    .option("--queue <name>", "queue of the jobs (default: the task's)")
    .option(
      "--missed <policy>",
      "ticks missed while no scheduler ran: skip (default) or catch-up",
      missedPolicy,
    )
    .option("--priority <n>", "priority of the jobs", wholeNumber("a priority", 0))
    .option("--retries <n>", "retries of the jobs", wholeNumber("a retry count", 0))
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        '  $ conveyor schedule add nightly-report --task reports.build --cron "0 2 * * *" --tz Europe/Madrid --missed catch-up',
        '  $ conveyor schedule add ping --task health.ping --every 30s --input \'{"target":"api"}\'',
      ].join("\n"),
    )
    .action(action<AddFlags>((ctx, flags, name) => add(ctx, flags, name!)));
  schedule
    .command("remove <name>")
    .description("delete a schedule")
    .addHelpText("after", "\nExample:\n  $ conveyor schedule remove nightly-report")
    .action(action<object>((ctx, _flags, name) => remove(ctx, name!)));

  program
    .command("scheduler")
    .description(
      "run the scheduler until SIGTERM or Ctrl-C: upserts the config's schedules and enqueues each tick once, however many schedulers run",
    )
    .option(
      "--lease-ms <ms>",
      "leader lease; a dead leader is replaced within it (default: 10000)",
      wholeNumber("a lease", 100),
    )
    .option(
      "--poll-ms <ms>",
      "pause between two looks at the due schedules (default: 200)",
      wholeNumber("a pause", 1),
    )
    .option(
      "--grace-ms <ms>",
      "how late a tick may still fire (default: 2 × lease)",
      wholeNumber("a grace period", 0),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor scheduler\n  $ conveyor scheduler --url redis://localhost:6379 --lease-ms 5000",
    )
    .action(action<SchedulerFlags>((ctx, flags) => runScheduler(ctx, flags)));

  const inspect =
    program.commands.find((command) => command.name() === "inspect") ??
    program.command("inspect").description("inspect the registered tasks and the queues");
  inspect
    .command("scheduled")
    .description("list the schedules with their next runs, the scheduler leader, and the delayed jobs")
    .addHelpText("after", "\nExample:\n  $ conveyor inspect scheduled --json")
    .action(action<object>((ctx) => scheduled(ctx)));
}
