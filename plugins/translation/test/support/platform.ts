import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, type Logger, type QueueAdapter } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { type TranslationOptions, translation } from "../../src/index.js";

/** A fresh folder under the OS temp folder, real path. */
export const tempRoot = (): string => realpathSync(mkdtempSync(join(tmpdir(), "conveyor-tr-")));

/** Log lines (message and fields), to count resource loads and pipeline starts. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (message: string, fields?: Record<string, unknown>) => {
    lines.push(fields?.mode ? `${message} ${String(fields.mode)}` : message);
  };
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

/** The platform on the memory adapter with the plugin registered; a queue may be shared. */
export async function platform(
  options: TranslationOptions,
  logger: Logger | false = false,
  queue: QueueAdapter = createMemoryQueue(),
  cache = createMemoryCache(),
): Promise<Conveyor> {
  return createConveyor({
    queue,
    cache,
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger,
    plugins: [translation(options)],
  });
}
