import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConveyorConfig } from "./config.js";
import type { Plugin, PluginOptions, Resource, Task, TaskOptions, TaskSandbox } from "./contracts/task.js";
import { ConfigError } from "./errors.js";

const TASK_NAME = /^[A-Za-z0-9_-]+(?:[.:][A-Za-z0-9_-]+)*$/;

/**
 * Defines a task: a named, typed unit of work.
 *
 * @example
 * ```ts
 * import { defineTask } from "@conveyor/core";
 * import { z } from "zod";
 *
 * export const wordCount = defineTask({
 *   name: "text.wordCount",
 *   input: z.object({ text: z.string() }),
 *   retries: 2,
 *   backoff: { type: "exponential", delayMs: 500, jitter: 0.5 },
 *   timeoutMs: 10_000,
 *   async run({ text }, ctx) {
 *     await ctx.progress(1, 1, "counted");
 *     return text.split(/\s+/).filter(Boolean).length;
 *   },
 * });
 * ```
 */
export function defineTask<I, O>(options: TaskOptions<I, O>): Task<I, O> {
  if (!TASK_NAME.test(options.name)) {
    throw new ConfigError(
      `task name "${options.name}" is invalid. Use letters, digits, "_" or "-" in dot-separated parts, e.g. "translation.translate".`,
    );
  }
  for (const [field, value] of [
    ["retries", options.retries],
    ["timeoutMs", options.timeoutMs],
    ["softTimeoutMs", options.softTimeoutMs],
  ] as const) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      throw new ConfigError(`task "${options.name}": ${field} must be a non-negative number, got ${value}.`);
    }
  }
  if (
    options.softTimeoutMs !== undefined &&
    options.timeoutMs !== undefined &&
    options.softTimeoutMs >= options.timeoutMs
  ) {
    throw new ConfigError(
      `task "${options.name}": softTimeoutMs (${options.softTimeoutMs}) must be below timeoutMs (${options.timeoutMs}) so the task can stop before the hard limit.`,
    );
  }
  const sandbox = options.sandbox === undefined ? undefined : checkSandbox(options.name, options.sandbox);
  return Object.freeze({ ...options, ...(sandbox ? { sandbox } : {}), kind: "task" as const });
}

/** Checks a task's `sandbox` and turns its module into an absolute file path. */
function checkSandbox(task: string, sandbox: TaskSandbox): TaskSandbox {
  if (!sandbox || typeof sandbox !== "object" || (sandbox.type !== "thread" && sandbox.type !== "process")) {
    throw new ConfigError(
      `task "${task}": sandbox.type must be "thread" or "process", got ${JSON.stringify((sandbox as Partial<TaskSandbox> | undefined)?.type ?? sandbox)}.`,
    );
  }
  const given = sandbox.module;
  let file: string | undefined;
  if (given instanceof URL || (typeof given === "string" && given.startsWith("file:"))) {
    try {
      file = fileURLToPath(given);
    } catch {
      file = undefined;
    }
  } else if (typeof given === "string" && isAbsolute(given)) {
    file = given;
  }
  if (!file) {
    throw new ConfigError(
      `task "${task}": sandbox.module must be the absolute path or file: URL of the module that defines the task, got ${JSON.stringify(String(given))}. Pass import.meta.url (ESM) or __filename (CJS).`,
    );
  }
  return Object.freeze({ type: sandbox.type, module: file });
}

/**
 * Defines a resource shared by every job of a worker process, loaded lazily once.
 *
 * @example
 * ```ts
 * import { defineResource } from "@conveyor/core";
 *
 * export const dictionary = defineResource({
 *   name: "text.dictionary",
 *   load: async () => new Set(["hello", "world"]),
 *   dispose: (words) => words.clear(),
 * });
 * ```
 */
export function defineResource<T>(resource: Resource<T>): Resource<T> {
  return Object.freeze({ ...resource });
}

/**
 * Defines a plugin: a named bundle of tasks and the resources they share.
 *
 * @example
 * ```ts
 * import { definePlugin, defineTask } from "@conveyor/core";
 *
 * const ping = defineTask({ name: "demo.ping", run: () => "pong" });
 * export const demo = definePlugin({ name: "demo", tasks: [ping] });
 * ```
 */
export function definePlugin(options: PluginOptions): Plugin {
  const names = new Set<string>();
  for (const task of options.tasks) {
    if (names.has(task.name))
      throw new ConfigError(`plugin "${options.name}" defines task "${task.name}" twice.`);
    names.add(task.name);
  }
  return Object.freeze({ ...options, kind: "plugin" as const });
}

/**
 * Types a configuration object (used in `conveyor.config.ts`).
 *
 * @example
 * ```ts
 * import { defineConfig } from "@conveyor/core";
 *
 * export default defineConfig({ url: "memory://", worker: { concurrency: 4 } });
 * ```
 */
export function defineConfig(config: ConveyorConfig): ConveyorConfig {
  return config;
}
