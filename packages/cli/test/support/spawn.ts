import { type ChildProcess, spawn } from "node:child_process";
import { cleanEnv } from "./cli.js";

/** What a child process printed and how it ended. */
export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started child process, with its output so far and its end. */
export interface Started {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  done: Promise<ProcessRun>;
  /** Resolves once stderr contains `text`. */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `node <script> ...args`; the child is killed after `timeoutMs` so a hang fails the test. */
export function start(
  script: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Started {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    output.stderr += chunk;
    for (const wake of waiters) wake();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const done = new Promise<ProcessRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      for (const wake of waiters) wake();
      resolve({ code, signal, ...output });
    });
  });
  const waitForStderr = (text: string | RegExp, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const found = typeof text === "string" ? output.stderr.includes(text) : text.test(output.stderr);
        if (found || child.exitCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          if (found) resolve();
          else reject(new Error(`the process ended before printing ${text}:\n${output.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${text} on stderr:\n${output.stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, output, done, waitForStderr };
}

/** Runs `node <script> ...args` to its end. */
export function run(
  script: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<ProcessRun> {
  return start(script, args, options).done;
}
