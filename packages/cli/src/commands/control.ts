import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Conveyor,
  createCacheWorkerControl,
  JOB_STATES,
  type JobState,
  maskUrl,
  TimeoutError,
  type WorkerInfo,
} from "@conveyor/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { NoWorkersError, UsageError } from "../errors.js";
import { formatDuration } from "../format.js";
import { renderTable } from "../io.js";
import { wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

const POLL_MS = 100;

/** Every queue worth acting on: the backend's, plus those of registered tasks. */
export async function knownQueues(conveyor: Conveyor): Promise<{ name: string; paused: boolean }[]> {
  const known = new Map((await conveyor.queues()).map((queue) => [queue.name, queue.paused]));
  for (const task of conveyor.tasks()) if (!known.has(task.queue)) known.set(task.queue, false);
  return [...known.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, paused]) => ({ name, paused }));
}

/** Warns that an in-process cache cannot see workers of other processes. */
export function inProcessCacheHint(ctx: CommandContext, conveyor: Conveyor): void {
  if (conveyor.backends.cache.startsWith("memory:")) {
    ctx.out.warn(
      `[conveyor:cli] the cache ${maskUrl(conveyor.backends.cache)} is in-process: workers of other processes report themselves in their own cache. Use a shared cache (--url redis://… or --cache-url disk://…) to see and reach them.`,
    );
  }
}

/** A comma list of job states, checked against the known states. */
function stateList(value: string): JobState[] {
  const states = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = states.filter((state) => !JOB_STATES.includes(state as JobState));
  if (states.length === 0 || unknown.length > 0)
    throw new InvalidArgumentError(
      `must be a comma list of job states (${JOB_STATES.join(", ")}); got "${unknown.join(", ") || value}".`,
    );
  return states as JobState[];
}

async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  ctx.out.stderr.write(`${question} [y/N] `);
  const rl = createInterface({ input: ctx.stdin, terminal: false });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface PurgeFlags {
  queue?: string;
  state?: JobState[];
  olderThan?: number;
  yes?: boolean;
}

async function purge(ctx: CommandContext, flags: PurgeFlags): Promise<number> {
  if (flags.state?.includes("active"))
    throw new UsageError(
      "--state active: running jobs are never purged. Cancel them with `conveyor cancel <id>`, or drop active from --state.",
    );
  return ctx.withPlatform(async (conveyor) => {
    const queues = flags.queue ? [flags.queue] : (await knownQueues(conveyor)).map((queue) => queue.name);
    const states = flags.state ?? JOB_STATES.filter((state) => state !== "active");
    if (!flags.yes) {
      if (!ctx.stdin.isTTY)
        throw new UsageError(
          "purge deletes jobs and asks first, but stdin is not a terminal. Add --yes to purge from a script.",
        );
      let upTo = 0;
      for (const name of queues) {
        const counts = await conveyor.counts(name);
        for (const state of states) upTo += counts[state] ?? 0;
      }
      const age = flags.olderThan !== undefined ? ` older than ${formatDuration(flags.olderThan)}` : "";
      const question = `Delete ${flags.olderThan !== undefined ? "up to " : ""}${upTo} ${states.join("/")} job(s)${age} from ${flags.queue ? `queue ${flags.queue}` : `${queues.length} queue(s) (${queues.join(", ")})`}?`;
      if (!(await confirm(ctx, question))) {
        ctx.out.info("nothing purged.");
        return 1;
      }
    }
    const options = {
      states,
      ...(flags.olderThan !== undefined ? { olderThanMs: flags.olderThan } : {}),
    };
    const purged: { queue: string; removed: number }[] = [];
    for (const name of queues) purged.push({ queue: name, removed: await conveyor.purge(name, options) });
    const total = purged.reduce((sum, entry) => sum + entry.removed, 0);
    if (ctx.out.flags.json) ctx.out.json({ removed: total, states, queues: purged });
    else
      ctx.out.line(
        `purged ${total} job(s): ${purged.map((p) => `${p.queue} ${p.removed}`).join(", ") || "no queue"}`,
      );
    return 0;
  });
}

async function pauseOrResume(ctx: CommandContext, queue: string, pause: boolean): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    if (pause) await conveyor.pause(queue);
    else await conveyor.resume(queue);
    if (ctx.out.flags.json) ctx.out.json({ queue, paused: pause });
    else
      ctx.out.line(
        pause
          ? `queue ${queue} is paused: workers claim no new job from it (running ones finish)`
          : `queue ${queue} is resumed`,
      );
    return 0;
  });
}

/** The live workers a control command is for: all, or the one named by `--worker`. */
async function targets(
  ctx: CommandContext,
  conveyor: Conveyor,
  workerId: string | undefined,
): Promise<WorkerInfo[]> {
  const workers = await conveyor.workers();
  const chosen = workerId === undefined ? workers : workers.filter((worker) => worker.id === workerId);
  if (chosen.length === 0) {
    inProcessCacheHint(ctx, conveyor);
    throw new NoWorkersError(
      workerId === undefined
        ? "no worker has a live heartbeat in this cache. Start one with `conveyor worker` against the same --url, or check the URL."
        : `no live worker has the id "${workerId}". List the live ones with \`conveyor inspect workers\`.`,
      { details: { workerId: workerId ?? null, live: workers.map((worker) => worker.id) } },
    );
  }
  return chosen;
}

interface ShutdownFlags {
  worker?: string;
  wait?: boolean;
  timeout?: number;
}

async function shutdown(ctx: CommandContext, flags: ShutdownFlags): Promise<number> {
  if (flags.timeout !== undefined && !flags.wait)
    throw new UsageError(
      "--timeout limits the wait and only applies with --wait. Add --wait, or drop --timeout.",
    );
  return ctx.withPlatform(async (conveyor) => {
    const chosen = await targets(ctx, conveyor, flags.worker);
    const control = createCacheWorkerControl(conveyor.cache);
    const sentAt = Date.now();
    const timeoutMs = flags.timeout ?? 60_000;
    // The command outlives the wait: a worker busy past the timeout still gets it next interval.
    for (const worker of chosen)
      await control.send(
        worker.id,
        { command: "shutdown", nonce: randomUUID(), sentAt },
        Math.max(60_000, timeoutMs),
      );
    const ids = chosen.map((worker) => worker.id);
    if (!flags.wait) {
      if (ctx.out.flags.json) ctx.out.json({ sent: ids });
      else
        ctx.out.line(
          `shutdown sent to ${ids.length} worker(s): ${ids.join(", ")}. Each drains (running jobs finish) after its next heartbeat; \`conveyor inspect workers\` shows when they are gone.`,
        );
      return 0;
    }
    const deadline = sentAt + timeoutMs;
    let remaining = new Set(ids);
    while (remaining.size > 0 && Date.now() < deadline && !ctx.signal?.aborted) {
      await sleep(POLL_MS);
      const live = new Set((await conveyor.workers()).map((worker) => worker.id));
      remaining = new Set([...remaining].filter((id) => live.has(id)));
    }
    const stopped = ids.filter((id) => !remaining.has(id));
    if (ctx.out.flags.json) ctx.out.json({ sent: ids, stopped, running: [...remaining] });
    else
      for (const id of ids)
        ctx.out.line(
          `${id}  ${remaining.has(id) ? "still running (draining, or not yet read the command)" : "stopped"}`,
        );
    if (remaining.size > 0)
      throw new TimeoutError(
        `waiting for ${remaining.size} worker(s) to stop (${[...remaining].join(", ")})`,
        timeoutMs,
        "They drain running jobs first and got the command; wait longer with --timeout <ms>, or watch `conveyor inspect workers`.",
        { scope: "cli", details: { running: [...remaining] } },
      );
    return 0;
  });
}

interface PingFlags {
  worker?: string;
  timeout?: number;
}

async function ping(ctx: CommandContext, flags: PingFlags): Promise<number> {
  return ctx.withPlatform(async (conveyor) => {
    const chosen = await targets(ctx, conveyor, flags.worker);
    const control = createCacheWorkerControl(conveyor.cache);
    const nonce = randomUUID();
    const sentAt = Date.now();
    const timeoutMs = flags.timeout ?? 10_000;
    const ids = chosen.map((worker) => worker.id);
    for (const id of ids) await control.send(id, { command: "ping", nonce, sentAt }, timeoutMs);
    const replies = new Map<string, number>();
    const deadline = sentAt + timeoutMs;
    while (replies.size < ids.length && !ctx.signal?.aborted) {
      const waiting = ids.filter((id) => !replies.has(id));
      const answers = await control.replies(nonce, waiting);
      for (const [index, answer] of answers.entries())
        if (answer) replies.set(waiting[index]!, Date.now() - sentAt);
      if (replies.size === ids.length || Date.now() >= deadline) break;
      await sleep(POLL_MS);
    }
    const rows = chosen.map((worker) => ({
      id: worker.id,
      host: worker.host,
      pid: worker.pid,
      ok: replies.has(worker.id),
      roundTripMs: replies.get(worker.id) ?? null,
      lastHeartbeatAgoMs: sentAt - worker.lastHeartbeatAt,
    }));
    if (ctx.out.flags.json) ctx.out.json(rows);
    else
      ctx.out.line(
        renderTable(
          ["WORKER", "HOST", "PID", "REPLY", "HEARTBEAT"],
          rows.map((row) => [
            row.id,
            row.host,
            String(row.pid),
            row.ok ? `pong in ${formatDuration(row.roundTripMs ?? 0)}` : "no reply",
            `${formatDuration(row.lastHeartbeatAgoMs)} ago`,
          ]),
        ),
      );
    if (replies.size === 0)
      throw new NoWorkersError(
        `no worker answered the ping within ${formatDuration(timeoutMs)}. Workers read commands once per heartbeat interval; a busy or stuck event loop answers late. Try --timeout <ms>.`,
        { details: { workers: ids } },
      );
    return 0;
  });
}

/** `conveyor purge`, `conveyor pause|resume <queue>`, `conveyor control shutdown`, `conveyor ping`. */
export function registerControl(program: Command, action: ActionFactory): void {
  program
    .command("purge")
    .description("delete jobs by queue, state and age (never running ones); asks first on a terminal")
    .option("--queue <name>", "only this queue (default: every known queue)")
    .option(
      "--state <states>",
      "only jobs in these states, comma-separated (default: every state but active)",
      stateList,
    )
    .option(
      "--older-than <ms>",
      "only jobs created (finished, for completed/failed/cancelled) at least this many ms ago",
      wholeNumber("a time in ms", 0),
    )
    .option("--yes", "do not ask (needed when stdin is not a terminal)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor purge --queue default --state completed,failed --older-than 86400000\n  $ conveyor purge --state waiting --yes --json",
    )
    .action(action<PurgeFlags>((ctx, flags) => purge(ctx, flags)));

  program
    .command("pause")
    .description("pause a queue: workers claim no new job from it, running ones finish")
    .argument("<queue>", "queue name")
    .action(action<object>((ctx, _flags, queue) => pauseOrResume(ctx, queue!, true)));
  program
    .command("resume")
    .description("resume a paused queue")
    .argument("<queue>", "queue name")
    .action(action<object>((ctx, _flags, queue) => pauseOrResume(ctx, queue!, false)));

  const control = program
    .command("control")
    .description("send commands to running workers (through the shared cache; read once per heartbeat)");
  control
    .command("shutdown")
    .description("stop workers gracefully: each stops claiming, lets running jobs finish, then exits")
    .option("--worker <id>", "only this worker (default: every live worker)")
    .option("--wait", "wait until the workers are gone from the registry (exit 124 on --timeout)")
    .option(
      "--timeout <ms>",
      "with --wait: stop waiting after this many ms (default 60000)",
      wholeNumber("a time in ms", 0),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor control shutdown --url redis://localhost:6379\n  $ conveyor control shutdown --worker 1c9e… --wait --timeout 30000",
    )
    .action(action<ShutdownFlags>((ctx, flags) => shutdown(ctx, flags)));

  program
    .command("ping")
    .description("ask live workers to answer (exit 69 when none does)")
    .option("--worker <id>", "only this worker (default: every live worker)")
    .option("--timeout <ms>", "how long to wait for replies (default 10000)", wholeNumber("a time in ms", 1))
    .addHelpText("after", "\nExample:\n  $ conveyor ping --url redis://localhost:6379 --json")
    .action(action<PingFlags>((ctx, flags) => ping(ctx, flags)));
}
