import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "@conveyor/core";

const run = promisify(execFile);

/**
 * Runs one command with `redis-cli` (installed with redis-server) against `url` and returns its
 * raw output: an admin channel that is not one of the connections under test.
 */
export async function redisCli(url: string, ...args: string[]): Promise<string> {
  // redis-cli does not percent-decode a password in -u, so it goes with -a.
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  const auth = password ? ["-a", password] : [];
  const { stdout } = await run("redis-cli", ["--no-auth-warning", ...auth, "-u", parsed.href, ...args]);
  return stdout.trim();
}

/** How many client connections the server has now, this redis-cli's own included. */
export async function clientCount(url: string): Promise<number> {
  const list = await redisCli(url, "CLIENT", "LIST");
  return list.split("\n").filter((line) => line.includes("addr=")).length;
}

/** The names of the clients connected now (`CLIENT SETNAME`), without redis-cli's own. */
export async function clientNames(url: string): Promise<string[]> {
  const list = await redisCli(url, "CLIENT", "LIST");
  return list
    .split("\n")
    .filter((line) => line.includes("addr=") && !/ cmd=client\|list /.test(line))
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "");
}

/** A logger that keeps what it is told, for asserting on warnings. */
export function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return {
    log,
    lines,
    warnings: (pattern?: RegExp) =>
      lines.filter((l) => l.level === "warn" && (pattern === undefined || pattern.test(l.message))),
  };
}
