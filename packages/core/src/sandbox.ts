import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker as Thread } from "node:worker_threads";
import type { Cache } from "./contracts/cache.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import type { Logger, Task, TaskContext, TaskSandbox } from "./contracts/task.js";
import { ConfigError, ConveyorError, type ConveyorErrorOptions } from "./errors.js";
import {
  type FromSandbox,
  fromWireError,
  type ToSandbox,
  toWireError,
  WIRE_METHODS,
} from "./sandbox-protocol.js";

/**
 * A sandbox (worker thread or child process) ended while it ran a job: the task called
 * `process.exit`, crashed natively, ran out of memory or threw outside its promise. Only that
 * job fails; it is retried if it has retries left, in a fresh sandbox.
 */
export class SandboxCrashedError extends ConveyorError {
  override name = "SandboxCrashedError" as const;
  constructor(what: string, how: string, options: ConveyorErrorOptions = {}) {
    super(
      "SANDBOX_CRASHED",
      `the sandbox running ${what} ${how}. Only this job failed (it is retried if it has retries left); look in the task for process.exit, a native crash, memory growth or an error thrown outside its promise.`,
      { retryable: true, ...options, details: { ...options.details, how } },
    );
  }
}

/** Where the sandbox entry is and how to load it (through jiti when this is the TypeScript source). */
function sandboxEntry(): { entry: string; jiti?: string } {
  const here = import.meta.url;
  const source = /\.ts$/.test(here);
  const entry = fileURLToPath(new URL(source ? "./sandbox-child.ts" : "./sandbox-child.js", here));
  if (!existsSync(entry)) {
    throw new ConfigError(
      `the sandbox entry ${entry} is missing. Sandboxed tasks need @conveyor/core installed as a package (not bundled into one file): mark it external in your bundler.`,
    );
  }
  return source ? { entry, jiti: createRequire(here).resolve("jiti") } : { entry };
}

// Runs in the new thread or process: loads the entry (through jiti for TypeScript) and starts it.
const BOOT = `
const data = require("node:worker_threads").workerData ?? JSON.parse(process.env.CONVEYOR_SANDBOX_BOOT);
const load = data.jiti
  ? require(data.jiti).createJiti(data.entry).import(data.entry)
  : import(require("node:url").pathToFileURL(data.entry).href);
load.then((m) => m.startSandboxChild(), (error) => {
  console.error("[conveyor] the sandbox could not start:", error);
  process.exit(70);
});
`;

interface Pending {
  ctx: TaskContext;
  what: string;
  /** Stops forwarding the job's signal. */
  cleanup?: () => void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One thread or process; runs one job at a time. */
class Sandbox {
  readonly ready: Promise<void>;
  dead = false;
  private current: { id: number; pending: Pending } | undefined;
  private crash: unknown;
  private readonly thread: Thread | undefined;
  private readonly child: ChildProcess | undefined;
  private onEnd: (() => void) | undefined;

  constructor(
    readonly type: TaskSandbox["type"],
    private readonly pool: SandboxPool,
  ) {
    const boot = sandboxEntry();
    let markReady!: () => void;
    let failStart!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    this.ready.catch(() => {});
    const receive = (message: FromSandbox) => {
      if (message.t === "ready") markReady();
      else this.receive(message);
    };
    const ended = (how: string) => {
      if (this.dead) return;
      this.dead = true;
      const reason = this.crash ? `${how}: ${(this.crash as Error)?.message ?? this.crash}` : how;
      failStart(new SandboxCrashedError(`a ${this.type} sandbox`, `${reason} before it was ready`));
      const current = this.current;
      this.current = undefined;
      current?.pending.reject(new SandboxCrashedError(current.pending.what, reason));
      this.pool.forget(this);
      this.onEnd?.();
    };
    if (type === "thread") {
      this.thread = new Thread(BOOT, { eval: true, workerData: boot });
      this.thread.on("message", receive);
      this.thread.on("error", (error) => {
        this.crash = error;
      });
      this.thread.on("exit", (code) => ended(`(worker thread) exited with code ${code}`));
    } else {
      this.child = spawn(process.execPath, ["-e", BOOT], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "advanced",
        env: { ...process.env, CONVEYOR_SANDBOX_BOOT: JSON.stringify(boot) },
      });
      this.child.on("message", (message) => receive(message as FromSandbox));
      this.child.on("error", (error) => {
        this.crash = error;
        ended("(child process) could not run");
      });
      this.child.on("exit", (code, signal) =>
        ended(
          `(child process ${this.child?.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`,
        ),
      );
    }
  }

  /** A busy sandbox keeps the process alive; an idle one does not. */
  hold(busy: boolean): void {
    if (this.dead) return;
    if (this.thread) {
      if (busy) this.thread.ref();
      else this.thread.unref();
    } else if (busy) {
      this.child?.ref();
      this.child?.channel?.ref();
    } else {
      this.child?.unref();
      this.child?.channel?.unref();
    }
  }

  /** Runs one job; resolves with its result or rejects with its error. */
  start(id: number, task: Task, input: unknown, ctx: TaskContext, what: string): Promise<unknown> {
    this.hold(true);
    return new Promise<unknown>((resolve, reject) => {
      const pending: Pending = {
        ctx,
        what,
        resolve: (value) => {
          pending.cleanup?.();
          resolve(value);
        },
        reject: (error) => {
          pending.cleanup?.();
          reject(error);
        },
      };
      this.current = { id, pending };
      this.ready.then(
        () => {
          if (this.current?.id !== id) return;
          this.send({
            t: "run",
            id,
            module: task.sandbox!.module as string,
            task: task.name,
            input,
            job: { jobId: ctx.jobId, queue: ctx.queue, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts },
          });
          // Cancel and the soft limit reach the task's own ctx.signal inside the sandbox, also
          // when they came while the sandbox was starting.
          const signal = ctx.signal;
          const forward = () =>
            this.runs(id) && this.send({ t: "abort", id, reason: toWireError(signal.reason) });
          if (signal.aborted) forward();
          else {
            signal.addEventListener("abort", forward, { once: true });
            pending.cleanup = () => signal.removeEventListener("abort", forward);
          }
        },
        (error: unknown) => {
          if (this.current?.id !== id) return;
          this.current = undefined;
          pending.reject(error);
        },
      );
    });
  }

  /** Whether the job `id` is still running here. */
  runs(id: number): boolean {
    return this.current?.id === id;
  }

  send(message: ToSandbox): void {
    if (this.dead) return;
    try {
      if (this.thread) this.thread.postMessage(message);
      else
        this.child?.send(
          message,
          (error) => error && this.pool.log.debug("sandbox send failed", { error: String(error) }),
        );
    } catch (error) {
      // The input (or a reply) cannot be cloned: the run fails, the sandbox stays usable.
      const current = this.current;
      if (message.t === "run" && current?.id === message.id) {
        this.current = undefined;
        current.pending.reject(
          new ConfigError(
            `the input of ${current.pending.what} cannot be sent to its sandbox (${(error as Error).message}).`,
            { retryable: false },
          ),
        );
        this.pool.release(this);
      } else throw error;
    }
  }

  /** Ends the thread or process at once (a stuck `while (true) {}` included). */
  kill(): void {
    if (this.dead) return;
    if (this.thread) void this.thread.terminate();
    else this.child?.kill("SIGKILL");
  }

  /** Asks the sandbox to dispose its resources and exit; kills it if it has not after `graceMs`. */
  stop(graceMs: number): Promise<void> {
    if (this.dead) return Promise.resolve();
    this.hold(true);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.kill(), graceMs);
      timer.unref();
      this.onEnd = () => {
        clearTimeout(timer);
        resolve();
      };
      this.send({ t: "close" });
      // A thread whose port closes exits by itself; a child process exits once its IPC is gone.
    });
  }

  private receive(message: Exclude<FromSandbox, { t: "ready" }>): void {
    if (message.t === "call") {
      void this.pool.answer(message.target, message.method, message.args).then(
        (value) => this.send({ t: "reply", id: message.id, ok: true, value }),
        (error: unknown) => this.send({ t: "reply", id: message.id, ok: false, error: toWireError(error) }),
      );
      return;
    }
    const current = this.current && this.current.id === message.id ? this.current.pending : undefined;
    if (message.t === "log") {
      const log = current?.ctx.log ?? this.pool.log;
      log[message.level](message.message, message.fields);
      return;
    }
    if (!current) return;
    if (message.t === "progress") {
      void current.ctx.progress(message.progress);
      return;
    }
    this.current = undefined;
    this.pool.release(this);
    if (message.ok) current.resolve(message.value);
    else current.reject(fromWireError(message.error));
  }
}

/** A sandboxed run: its result, and a way to end it at once. */
export interface SandboxRun {
  /** Settles with the task's result or error. */
  readonly result: Promise<unknown>;
  /** Kills the sandbox if the run has not ended (the caller has given up on its result); a no-op after. */
  kill(): void;
}

/** What a {@link SandboxPool} needs from the worker. */
export interface SandboxPoolOptions {
  cache: Cache;
  rateLimiter: RateLimiter;
  log: Logger;
  /** Idle sandboxes kept per type for reuse; more are stopped. @defaultValue 1 */
  maxIdle?: number;
}

/**
 * The sandboxes of one worker: threads and processes started on demand, reused job after job
 * (idle ones wait for the next job, up to `maxIdle` per type), replaced when killed or crashed.
 */
export class SandboxPool {
  readonly log: Logger;
  private readonly idle: Record<TaskSandbox["type"], Sandbox[]> = { thread: [], process: [] };
  private readonly all = new Set<Sandbox>();
  private nextRun = 0;
  private closed = false;

  constructor(private readonly options: SandboxPoolOptions) {
    this.log = options.log;
  }

  /** Sandboxes alive now (busy and idle). */
  get size(): number {
    return this.all.size;
  }

  /** Runs `task` (which has a `sandbox`) in a sandbox of its type. */
  run(task: Task, input: unknown, ctx: TaskContext): SandboxRun {
    const type = task.sandbox!.type;
    const sandbox = this.idle[type].pop() ?? this.spawn(type);
    const id = ++this.nextRun;
    const what = `job ${ctx.jobId} (task "${task.name}", attempt ${ctx.attempt})`;
    const result = sandbox.start(id, task, input, ctx, what);
    return {
      result,
      kill: () => {
        if (sandbox.runs(id)) sandbox.kill();
      },
    };
  }

  /** Calls the worker's cache or rate limiter for a sandbox. @internal */
  answer(target: "cache" | "rateLimiter", method: string, args: unknown[]): Promise<unknown> {
    if (!WIRE_METHODS[target].includes(method)) {
      return Promise.reject(new ConfigError(`a sandbox may not call ${target}.${method}().`));
    }
    const object = this.options[target] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    return Promise.resolve().then(() => object[method]!(...args));
  }

  /** Puts a sandbox back for the next job (or stops it when enough are idle or the pool closed). @internal */
  release(sandbox: Sandbox): void {
    if (sandbox.dead) return;
    sandbox.hold(false);
    const idle = this.idle[sandbox.type];
    if (this.closed || idle.length >= (this.options.maxIdle ?? 1)) void sandbox.stop(5_000);
    else idle.push(sandbox);
  }

  /** Drops a sandbox that ended. @internal */
  forget(sandbox: Sandbox): void {
    this.all.delete(sandbox);
    const idle = this.idle[sandbox.type];
    const at = idle.indexOf(sandbox);
    if (at >= 0) idle.splice(at, 1);
  }

  /** Stops every sandbox: idle ones dispose their resources and exit, busy ones are killed. */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    const idle = new Set([...this.idle.thread, ...this.idle.process]);
    this.idle.thread = [];
    this.idle.process = [];
    await Promise.all(
      [...this.all].map((sandbox) => {
        if (idle.has(sandbox)) return sandbox.stop(graceMs);
        sandbox.kill();
        return Promise.resolve();
      }),
    );
  }

  private spawn(type: TaskSandbox["type"]): Sandbox {
    if (this.closed) throw new ConfigError("the worker's sandbox pool is closed; start a new worker.");
    const sandbox = new Sandbox(type, this);
    this.all.add(sandbox);
    return sandbox;
  }
}
