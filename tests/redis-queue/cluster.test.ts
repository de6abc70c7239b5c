import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { JobCancelledError, type NewJob, silentLogger } from "@conveyor/core";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisClusterHandle, randomPrefix, startRedisCluster, waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const cli = async (port: number, ...args: string[]) =>
  (await run("redis-cli", ["-p", String(port), ...args])).stdout.trim();

function jobs(prefix: string, queue: string, count: number, runAt = Date.now()): NewJob[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    queue,
    task: "cluster.echo",
    input: { i },
    priority: i % 3,
    runAt,
    createdAt: now,
    maxAttempts: 2,
  }));
}

describe("redis queue on a 3-master Redis Cluster", () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("every key of a prefix lives in one slot, and different prefixes spread over the masters", async () => {
    const prefixes = Array.from({ length: 12 }, () => randomPrefix());
    const queues = prefixes.map((prefix) =>
      createRedisQueue({ url: cluster.url, prefix, log: silentLogger, checkPersistence: false }),
    );
    try {
      await Promise.all(
        queues.map(async (queue, n) => {
          const name = "q";
          await queue.add(jobs(prefixes[n]!, name, 20));
          await queue.add(jobs(`${prefixes[n]!}-later`, name, 2, Date.now() + 60_000));
          const consumer = queue.consume(
            { queues: [name], concurrency: 4, workerId: `w${n}` },
            async (job) =>
              (job.record.input as { i: number }).i % 5 === 0
                ? { type: "failed", error: { name: "Error", message: "five", attempt: job.record.attempt } }
                : { type: "completed", result: job.record.input },
          );
          await waitFor(
            async () => {
              const counts = await queue.counts(name);
              return counts.completed + counts.failed === 20;
            },
            { timeoutMs: 15_000, message: "20 jobs finished" },
          );
          await consumer.close();
          await queue.pause("other");
        }),
      );
      const owners = new Set<number>();
      for (const prefix of prefixes) {
        const slots = new Set<string>();
        const holders: number[] = [];
        let keys = 0;
        for (const node of cluster.nodes) {
          const found = (await cli(node.port, "--scan", "--pattern", `*${prefix}*`))
            .split("\n")
            .filter(Boolean);
          if (found.length > 0) holders.push(node.port);
          keys += found.length;
          for (const key of found) {
            expect(key.startsWith(`{${prefix}}:`), key).toBe(true);
            slots.add(await cli(node.port, "CLUSTER", "KEYSLOT", key));
          }
        }
        // Job hashes, state sets, the event stream, the queue and paused sets: all in one slot.
        expect(keys).toBeGreaterThan(22);
        expect(slots.size).toBe(1);
        expect(holders).toHaveLength(1);
        owners.add(holders[0]!);
      }
      expect(owners.size).toBeGreaterThan(1);
    } finally {
      await Promise.all(queues.map((queue) => queue.close()));
    }
  }, 60_000);

  it("a cancel from another adapter reaches the active job's handler through the cluster", async () => {
    const prefix = randomPrefix();
    const worker = createRedisQueue({ url: cluster.url, prefix, log: silentLogger, checkPersistence: false });
    // A second adapter has its own connections: the notice travels through the cluster, not memory.
    const other = createRedisQueue({
      url: `${cluster.url}&connectTimeoutMs=4000`,
      prefix,
      log: silentLogger,
      checkPersistence: false,
    });
    let aborted: unknown;
    let started = false;
    const consumer = worker.consume({ queues: ["q"], concurrency: 1, workerId: "w" }, (job) => {
      started = true;
      return new Promise((resolve) => {
        job.onAbort((reason) => {
          aborted = reason;
          resolve({
            type: "cancelled",
            error: { name: "JobCancelledError", message: "cancelled", attempt: job.record.attempt },
          });
        });
      });
    });
    try {
      await other.add(jobs(prefix, "q", 1));
      await waitFor(() => started, { message: "the job to start" });
      expect(await other.cancel(`${prefix}-0`)).toBe("requested");
      await waitFor(() => aborted !== undefined, { timeoutMs: 5_000, message: "the handler to be aborted" });
      expect(aborted).toBeInstanceOf(JobCancelledError);
      await waitFor(async () => (await other.getJob(`${prefix}-0`))?.state === "cancelled", {
        message: "the job to end cancelled",
      });
    } finally {
      await consumer.close();
      await worker.close();
      await other.close();
    }
  });
});
