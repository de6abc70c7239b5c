// What the queue adapters' fault tests (tests/<adapter>/faults.test.ts) share besides processes:
// the faults.echo jobs their worker fixtures run, and the Redis outage under a steady producer.
import type { NewJob, QueueAdapter } from "@conveyor/core";
import { type RedisServerHandle, waitFor } from "@conveyor/testing";
import { expect } from "vitest";

/** `count` faults.echo jobs with ids `<prefix>-<n>` from `from` on; each returns its n. */
export function echoJobs(prefix: string, queue: string, from: number, count: number): NewJob[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${from + i}`,
    queue,
    task: "faults.echo",
    input: { n: from + i },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 4,
  }));
}

export async function completedIds(queue: QueueAdapter, name: string): Promise<string[]> {
  const done = await queue.listJobs({ queue: name, states: ["completed"], limit: 100_000 });
  return done.map((job) => job.id);
}

/**
 * Waits (30 s at most) until every acknowledged job is among the completed ones — by id, not by
 * count: an add whose reply was lost in a restart may complete too — and expects none lost;
 * answers the completed ids.
 */
export async function expectNoneLost(
  queue: QueueAdapter,
  name: string,
  acknowledged: readonly string[],
): Promise<Set<string>> {
  const done = await waitFor(
    async () => {
      const ids = new Set(await completedIds(queue, name));
      const missing = acknowledged.filter((id) => !ids.has(id));
      if (missing.length > 0) {
        throw new Error(
          `${missing.length} acknowledged job(s) not completed yet: ${missing.slice(0, 10).join(", ")}`,
        );
      }
      return ids;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: "every acknowledged job completed" },
  );
  expect(acknowledged.filter((id) => !done.has(id))).toEqual([]);
  return done;
}

/** What a producer saw across a Redis restart. */
export interface ProducedThroughRestart {
  /** Ids of the jobs whose enqueue was acknowledged. */
  readonly acknowledged: string[];
  /** Enqueues that failed with an error (while the server was down). */
  readonly refused: number;
  /** How many were acknowledged when the server was back. */
  readonly beforeRestart: number;
}

/**
 * Enqueues one job at a time without pause; after 200 acknowledged, SIGKILLs `redis`, restarts
 * it 300 ms later, and stops once 200 more went through.
 */
export async function produceThroughRestart(
  redis: RedisServerHandle,
  producer: QueueAdapter,
  prefix: string,
  name: string,
): Promise<ProducedThroughRestart> {
  const acknowledged: string[] = [];
  let refused = 0;
  let producing = true;
  let beforeRestart = 0;
  const produce = (async () => {
    for (let n = 0; producing; n++) {
      try {
        const [added] = await producer.add(echoJobs(prefix, name, n, 1));
        acknowledged.push(added!.job.id);
      } catch {
        refused++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  try {
    await waitFor(() => acknowledged.length >= 200, { timeoutMs: 15_000, message: "200 enqueued" });
    await redis.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.restart();
    beforeRestart = acknowledged.length;
    await waitFor(() => acknowledged.length >= beforeRestart + 200, {
      timeoutMs: 20_000,
      message: "enqueueing to resume",
    });
  } finally {
    // Also when a wait fails: the loop must not outlive the test.
    producing = false;
    await produce;
  }
  return { acknowledged, refused, beforeRestart };
}
