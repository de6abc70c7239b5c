import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const FIXTURES = join(import.meta.dirname, "fixtures");
const TESTS_ROOT = join(import.meta.dirname, "..");

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs one process of the app that consumes `cost` points, and returns the limiter's answer. */
function consume(env: NodeJS.ProcessEnv, key: string, cost: number): Promise<Record<string, unknown>> {
  const child: ChildProcess = fork(join(FIXTURES, "node.ts"), ["consume", "limits", key, String(cost)], {
    cwd: TESTS_ROOT,
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...env, TSX_TSCONFIG_PATH: join(FIXTURES, "tsconfig.json") },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    let answer: Record<string, unknown> | undefined;
    child.on("message", (message) => {
      answer = message as Record<string, unknown>;
    });
    child.on("exit", (code) => {
      if (code === 0 && answer) resolve(answer);
      else reject(new Error(`the consume process exited with ${code}:\n${output}`));
    });
  });
}

describe("rate limits across restarts, by URL only", { timeout: 60_000 }, () => {
  it("memory://?persist=<file>: a process that starts after another one closed counts on from it", async () => {
    const folder = mkdtempSync(join(tmpdir(), "conveyor-limits-restart-"));
    folders.push(folder);
    const file = join(folder, "limits.json");
    const env = { CONVEYOR_URL: "memory://", CONVEYOR_RATE_LIMIT_URL: `memory://?persist=${file}` };
    expect(await consume(env, "user-1", 6)).toMatchObject({ allowed: true, remaining: 4, consumed: 6 });
    expect(existsSync(file)).toBe(true);
    // The next process: 6 of 10 are gone, so 5 more are refused and 4 are granted.
    expect(await consume(env, "user-1", 5)).toMatchObject({ allowed: false, consumed: 6 });
    expect(await consume(env, "user-1", 4)).toMatchObject({ allowed: true, remaining: 0, consumed: 10 });

    // Without persist, every process starts afresh.
    const plain = { CONVEYOR_URL: "memory://" };
    expect(await consume(plain, "user-1", 6)).toMatchObject({ consumed: 6 });
    expect(await consume(plain, "user-1", 6)).toMatchObject({ allowed: true, consumed: 6 });
  });
});
