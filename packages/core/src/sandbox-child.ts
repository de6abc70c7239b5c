/**
 * The inside of a sandbox (a worker thread or a child process started by the worker's sandbox
 * pool). It imports task modules by file path, runs one job at a time and talks to the worker
 * over the thread's port or the process's IPC channel. Built as its own entry
 * (`dist/sandbox-child.js`); not part of the public API.
 */

import { pathToFileURL } from "node:url";
import { isMainThread, parentPort } from "node:worker_threads";
import type { Cache } from "./contracts/cache.js";
import type { Progress } from "./contracts/job.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { Logger, Resource, Task, TaskContext } from "./contracts/task.js";
import { ConfigError } from "./errors.js";
import { toProgress } from "./progress.js";
import { ResourcePool } from "./resources.js";
import {
  type FromSandbox,
  fromWireError,
  type ToSandbox,
  toWireError,
  WIRE_METHODS,
  type WireJob,
  type WireTarget,
} from "./sandbox-protocol.js";

type Send = (message: FromSandbox) => void;

/** Tasks found among a module's exports: tasks, plugins' tasks, a config object's tasks and plugins. */
function collectTasks(value: unknown, found: Map<string, Task>, depth = 0): void {
  if (!value || typeof value !== "object" || depth > 2) return;
  const item = value as { kind?: unknown; name?: unknown; tasks?: unknown; plugins?: unknown };
  if (item.kind === "task" && typeof item.name === "string") {
    found.set(item.name, value as Task);
    return;
  }
  if (Array.isArray(item.tasks)) for (const task of item.tasks) collectTasks(task, found, depth + 1);
  if (Array.isArray(item.plugins)) for (const plugin of item.plugins) collectTasks(plugin, found, depth + 1);
  if (item.kind === "plugin") return;
  for (const exported of Object.values(item)) collectTasks(exported, found, depth + 1);
}

async function importModule(file: string): Promise<unknown> {
  if (/\.[mc]?tsx?$/.test(file)) {
    const { createJiti } = await import("jiti");
    return createJiti(pathToFileURL(file).href, { interopDefault: true }).import(file);
  }
  return import(pathToFileURL(file).href);
}

/** Starts the sandbox loop on this thread's port or this process's IPC channel. */
export function startSandboxChild(): void {
  let send: Send;
  let listen: (receive: (message: ToSandbox) => void) => void;
  let exit: () => void;
  if (!isMainThread && parentPort) {
    const port = parentPort;
    send = (message) => port.postMessage(message);
    listen = (receive) => port.on("message", receive);
    exit = () => port.close();
  } else if (process.send) {
    send = (message) => {
      process.send!(message, undefined, {}, (error) => {
        if (error) process.exitCode = 1;
      });
    };
    listen = (receive) => process.on("message", receive as (message: unknown) => void);
    exit = () => process.disconnect();
  } else {
    throw new ConfigError("the sandbox entry runs only inside a worker thread or a child process with IPC.");
  }

  const modules = new Map<string, Promise<Map<string, Task>>>();
  const runs = new Map<number, AbortController>();
  const calls = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextCall = 0;

  const logger = (id: number | undefined): Logger => {
    const line =
      (level: "debug" | "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) =>
        send({ t: "log", id, level, message, ...(fields ? { fields: plain(fields) } : {}) });
    return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
  };
  const resources = new ResourcePool(logger(undefined));

  const call = (target: WireTarget, method: string, args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextCall;
      calls.set(id, { resolve, reject });
      send({ t: "call", id, target, method, args });
    });
  const remote = <T>(target: WireTarget, extra: object): T => {
    const object: Record<string, unknown> = { ...extra };
    for (const method of WIRE_METHODS[target])
      object[method] = (...args: unknown[]) => call(target, method, args);
    object.close = () =>
      Promise.reject(new ConfigError(`a sandboxed task cannot close the worker's ${target}.`));
    return object as T;
  };
  const cache = remote<Cache>("cache", { local: false });
  const rateLimiter = remote<RateLimiter>("rateLimiter", {});

  const findTask = async (file: string, name: string): Promise<Task> => {
    let loading = modules.get(file);
    if (!loading) {
      loading = importModule(file).then((mod) => {
        const found = new Map<string, Task>();
        collectTasks(mod, found);
        return found;
      });
      modules.set(file, loading);
      loading.catch(() => modules.delete(file));
    }
    let tasks: Map<string, Task>;
    try {
      tasks = await loading;
    } catch (cause) {
      throw new ConfigError(
        `the sandbox could not import ${file}: ${(cause as Error)?.message ?? cause}. Fix that module, or point the task's sandbox.module at the file that defines it.`,
        { cause, retryable: false },
      );
    }
    const task = tasks.get(name);
    if (!task) {
      const known = [...tasks.keys()].sort();
      throw new ConfigError(
        `the sandbox found no task "${name}" among the exports of ${file} (${known.length ? `it exports ${known.join(", ")}` : "it exports no task"}). Export the task from the module its sandbox.module names.`,
        { retryable: false },
      );
    }
    return task;
  };

  const run = async (id: number, file: string, name: string, input: unknown, job: WireJob) => {
    const controller = new AbortController();
    runs.set(id, controller);
    try {
      const task = await findTask(file, name);
      const context: TaskContext = {
        ...job,
        signal: controller.signal,
        progress(progress: Progress | number, total?: number, message?: string) {
          send({ t: "progress", id, progress: toProgress(progress, total, message) });
          return Promise.resolve();
        },
        resource: <T>(resource: Resource<T>) => resources.get(resource),
        cache,
        rateLimiter,
        log: logger(id),
        get conveyor(): never {
          throw new ConfigError(
            `task "${name}" read ctx.conveyor inside its sandbox, where there is no platform. Enqueue child jobs from a task without a sandbox, or return what the next job needs and enqueue it from there.`,
          );
        },
      };
      const value = await task.run(input, context);
      try {
        send({ t: "done", id, ok: true, value });
      } catch (error) {
        throw new ConfigError(
          `task "${name}" returned a value that cannot leave its sandbox (${(error as Error).message}). Return plain data: objects, arrays, strings, numbers, dates, typed arrays.`,
          { retryable: false },
        );
      }
    } catch (error) {
      send({ t: "done", id, ok: false, error: toWireError(error) });
    } finally {
      runs.delete(id);
    }
  };

  listen((message) => {
    switch (message.t) {
      case "run":
        void run(message.id, message.module, message.task, message.input, message.job);
        return;
      case "abort":
        runs.get(message.id)?.abort(fromWireError(message.reason));
        return;
      case "reply": {
        const pending = calls.get(message.id);
        calls.delete(message.id);
        if (message.ok) pending?.resolve(message.value);
        else pending?.reject(fromWireError(message.error));
        return;
      }
      case "close":
        void resources.dispose().finally(exit);
        return;
    }
  });
  send({ t: "ready" });
}

/** Log fields as plain data (a field that cannot be cloned becomes its string). */
function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    try {
      out[key] = structuredClone(value);
    } catch {
      out[key] = String(value);
    }
  }
  return out;
}
