import { constants, existsSync } from "node:fs";
import { access } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { DiagnoseContext, Diagnosis, DiagnosticCheck } from "@conveyor/core";

/**
 * Checks a `memory://` backend for `conveyor doctor`. Nothing can be down, but an in-process
 * queue is shared with no other process (a worker started elsewhere never sees its jobs), and a
 * rate limiter's `persist` file must be writable.
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { diagnoseMemory } from "@conveyor/memory";
 *
 * const url = "memory://";
 * const { checks } = await diagnoseMemory({ url, parsed: parseUrl(url), kind: "queue", timeoutMs: 1_000 });
 * console.log(checks[0]?.message);
 * ```
 */
export async function diagnoseMemory(context: DiagnoseContext): Promise<Diagnosis> {
  const { kind, parsed } = context;
  const checks: DiagnosticCheck[] = [];
  if (kind === "queue") {
    checks.push({
      name: "reachable",
      status: "warn",
      message:
        "in-process: only the process that creates it sees the queue; workers in other processes (conveyor worker) never get its jobs",
      fix: "Fine for one process (conveyor run, tests). To share jobs between processes use disk://./.conveyor (one machine) or redis://….",
    });
  } else {
    const what = kind === "cache" ? "entries" : "limits";
    checks.push({
      name: "reachable",
      status: "ok",
      message: `in-process: each process keeps its own ${what}`,
    });
  }
  const persist = kind === "rateLimiter" ? parsed.searchParams.get("persist") : null;
  if (persist) {
    const file = resolve(persist);
    let folder = dirname(file);
    while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
    try {
      await access(existsSync(file) ? file : folder, constants.W_OK);
      checks.push({ name: "persistence", status: "ok", message: `limits are saved to ${file} on close` });
    } catch (error) {
      checks.push({
        name: "persistence",
        status: "fail",
        message: `${file} cannot be written: ${(error as Error).message}`,
        fix: "Point persist= at a file in a folder this user can write.",
      });
    }
  } else if (kind === "rateLimiter") {
    checks.push({
      name: "persistence",
      status: "ok",
      message:
        "limits start afresh when the process restarts (add ?persist=./.conveyor/limits.json to keep them)",
    });
  }
  return { version: `Node ${process.versions.node}`, checks };
}
