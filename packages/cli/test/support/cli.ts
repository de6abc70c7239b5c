import { resolve } from "node:path";
import { runCli } from "../../src/index.js";

/** The fixture folder whose conveyor.config.ts registers demo.add, demo.fail, demo.slow and echo. */
export const FIXTURE = resolve(import.meta.dirname, "../fixtures/basic");

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The process env without any `CONVEYOR_*` variable, so the host's settings never leak in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CONVEYOR_")) env[key] = value;
  return { ...env, ...extra };
}

/** Runs the CLI in this process with captured output; `cwd` defaults to the fixture folder. */
export async function cli(
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string; signal?: AbortSignal; tty?: boolean } = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk), isTTY: options.tty ?? false },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: options.tty ?? false, columns: 120 },
    env: cleanEnv(options.env),
    cwd: options.cwd ?? FIXTURE,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout, stderr };
}
