import type { NewJob, Outcome } from "@conveyor/core";

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

/** The outcome of a job that completed with `result`. */
export const completed = (result: unknown = null): Outcome => ({ type: "completed", result });

/** Resolves once `check` passes, polling on macrotasks; fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A promise with its resolve function, for handlers a test finishes by hand. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
