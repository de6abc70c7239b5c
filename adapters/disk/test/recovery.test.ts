import { join } from "node:path";
import type { JobEvent } from "@conveyor/core";
import { waitFor } from "@conveyor/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createDiskQueue } from "../src/index.js";
import { newJob, tempFolder } from "./helpers.js";

describe("leases", () => {
  it("a job whose lease ran out (its worker vanished) goes back to waiting, counted, and runs again", async () => {
    const path = tempFolder();
    const queue = createDiskQueue({ path });
    await queue.add([newJob({ id: "orphan", maxAttempts: 1 })]);
    // A worker that died: the job is active under an owner nobody renews, its lease long past.
    const raw = new Database(join(path, "queue.sqlite"));
    raw
      .prepare(
        "UPDATE jobs SET state = 'active', attempt = 1, started_at = ?, worker_id = 'gone', owner = 'gone', lease = 'gone:1', lease_until = ? WHERE id = 'orphan'",
      )
      .run(Date.now() - 5_000, Date.now() - 1_000);
    raw.close();

    const events: JobEvent[] = [];
    const unsubscribe = await queue.subscribe((event) => events.push(event));
    const attempts: number[] = [];
    const consumer = queue.consume(
      { queues: ["default"], concurrency: 1, workerId: "alive" },
      async (job) => {
        attempts.push(job.record.attempt);
        return { type: "completed", result: "recovered" };
      },
    );
    await waitFor(async () => (await queue.getJob("orphan"))?.state === "completed");
    expect(attempts).toEqual([2]);
    const done = await queue.getJob("orphan");
    expect(done).toMatchObject({ result: "recovered", attempt: 2 });
    expect(done?.workerId).toBeUndefined();
    await waitFor(() => events.some((e) => e.type === "completed"));
    expect(events.map((e) => [e.type, e.attempt])).toEqual([
      ["stalled", 1],
      ["waiting", 1],
      ["active", 2],
      ["completed", 2],
    ]);
    await consumer.close();
    await unsubscribe();
    await queue.close();
  });

  it("a running job's lease is renewed, so a slow handler keeps its job", async () => {
    const path = tempFolder();
    const queue = createDiskQueue({ path, leaseMs: 150 });
    const other = createDiskQueue({ path });
    await queue.add([newJob({ id: "slow" })]);
    let runs = 0;
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w1" }, async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 600));
      return { type: "completed", result: null };
    });
    // Another consumer polls the whole time and would recover the job if its lease lapsed.
    const watcher = other.consume({ queues: ["default"], concurrency: 1, workerId: "w2" }, async () => {
      runs++;
      return { type: "completed", result: null };
    });
    await waitFor(async () => (await queue.getJob("slow"))?.state === "completed", { timeoutMs: 5_000 });
    expect(runs).toBe(1);
    expect((await queue.getJob("slow"))?.attempt).toBe(1);
    await Promise.all([consumer.close(), watcher.close()]);
    await Promise.all([queue.close(), other.close()]);
  });

  it("a cancel stored by another connection reaches the handler through the owner's poll", async () => {
    const path = tempFolder();
    const queue = createDiskQueue({ path });
    await queue.add([newJob({ id: "victim" })]);
    let reason: unknown;
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w1" }, (job) => {
      return new Promise((resolve) =>
        job.onAbort((why) => {
          reason = why;
          resolve({ type: "cancelled", expiresAt: Date.now() + 60_000 });
        }),
      );
    });
    await waitFor(async () => (await queue.getJob("victim"))?.state === "active");
    // A raw connection, as another process would write it: no in-process notification.
    const raw = new Database(join(path, "queue.sqlite"));
    raw.prepare("UPDATE jobs SET cancel_requested = 1 WHERE id = 'victim'").run();
    raw.close();
    await waitFor(async () => (await queue.getJob("victim"))?.state === "cancelled", { timeoutMs: 5_000 });
    expect((reason as Error).name).toBe("JobCancelledError");
    await consumer.close();
    await queue.close();
  });
});
