import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NewJob } from "@conveyor/core";
import { afterEach } from "vitest";

const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A fresh temporary folder, deleted after the test. */
export function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), "conveyor-disk-test-"));
  folders.push(folder);
  return folder;
}

let counter = 0;

/** A ready job with a unique id; override any field. */
export function newJob(over: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  counter++;
  return {
    id: `job-${counter}`,
    queue: "default",
    task: "test.run",
    input: { n: counter },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 1,
    ...over,
  };
}
