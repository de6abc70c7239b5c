import { JOB_STATES, type JobCounts } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { renderTable } from "../io.js";
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

/** `conveyor inspect registered|queues`. */
export function registerInspect(program: Command, action: ActionFactory): void {
  const inspect = program.command("inspect").description("inspect the registered tasks and the queues");
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
}
