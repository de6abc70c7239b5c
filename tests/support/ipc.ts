// Child processes that talk back over IPC: a fixture forked from source that sends typed messages
// ({ type: "ready" }, { type: "done" }, …) and takes commands through `process.send`.
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const testsDir = fileURLToPath(new URL("..", import.meta.url));

/** A forked fixture and its IPC inbox. */
export interface IpcChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** The next IPC message of `type` (messages that came before are kept for later calls). */
  message<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  readonly exited: Promise<number | null>;
}

const children: IpcChild[] = [];

/**
 * Forks `tests/<topic>/fixtures/<script>` through tsx with the topic's fixtures tsconfig (so
 * `@conveyor/*` resolve to their sources). `name` labels its errors; `env` adds to this process's.
 */
export function forkFixture(
  topic: string,
  script: string,
  args: readonly string[],
  options: { name: string; env?: NodeJS.ProcessEnv; messageTimeoutMs?: number },
): IpcChild {
  const fixtures = join(testsDir, topic, "fixtures");
  const child = fork(join(fixtures, script), [...args], {
    cwd: testsDir,
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...options.env, TSX_TSCONFIG_PATH: join(fixtures, "tsconfig.json") },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const inbox: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  child.on("message", (message) => {
    inbox.push(message as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const handle: IpcChild = {
    process: child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async message<T>(type: string, timeoutMs = options.messageTimeoutMs ?? 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = inbox.findIndex((m) => m.type === type);
        if (index !== -1) return inbox.splice(index, 1)[0] as T;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(
            `no "${type}" message from ${options.name} (exit ${child.exitCode}); its output:\n${output}`,
          );
        }
        await Promise.race([
          new Promise<void>((resolve) => waiters.push(resolve)),
          new Promise((resolve) => setTimeout(resolve, 100)),
          exited,
        ]);
      }
    },
  };
  children.push(handle);
  return handle;
}

/** Kills (SIGKILL) every forked fixture still running and waits for each to exit; for `afterEach`. */
export async function killIpcChildren(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
    await child.exited;
  }
}
