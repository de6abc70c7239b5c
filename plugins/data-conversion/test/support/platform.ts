import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, type Logger } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { DuckDBInstance } from "@duckdb/node-api";
import { type DataConversionOptions, dataConversion } from "../../src/index.js";

/** A fresh folder under the OS temp folder, real path. */
export const tempRoot = (): string => realpathSync(mkdtempSync(join(tmpdir(), "conveyor-dc-")));

/** Debug lines the runtime and resources logged, to count resource loads. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

/** The platform on the memory adapter with the plugin registered. */
export async function platform(
  options: DataConversionOptions,
  logger: Logger | false = false,
): Promise<Conveyor> {
  return createConveyor({
    queue: createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger,
    plugins: [dataConversion(options)],
  });
}

/** Runs one SQL statement on a throwaway DuckDB (to generate and read back test files). */
export async function sql<T = Record<string, unknown>>(statement: string): Promise<T[]> {
  const instance = await DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false" });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(statement)).getRowObjects() as T[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
