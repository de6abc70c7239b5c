import { waitFor } from "@conveyor/testing";
import { describe, expect, it } from "vitest";
import { createDiskQueue } from "../src/index.js";
import { newJob, tempFolder } from "./helpers.js";

describe("a busy consumer", () => {
  it("promotes a delayed job on time while a backlog keeps every slot full", async () => {
    const queue = createDiskQueue({ path: tempFolder() });
    await queue.add(Array.from({ length: 400 }, (_, n) => newJob({ id: `backlog-${n}` })));
    const order: string[] = [];
    const consumer = queue.consume({ queues: ["default"], concurrency: 1, workerId: "w" }, async (job) => {
      order.push(job.record.id);
      await new Promise((resolve) => setTimeout(resolve, 2));
      return { type: "completed", result: null };
    });
    await waitFor(() => order.length >= 5);
    // Due in 100 ms and first in line once due: nothing but the clock tells the consumer it is due.
    await queue.add([newJob({ id: "urgent", priority: 10, runAt: Date.now() + 100 })]);
    await waitFor(async () => (await queue.getJob("urgent"))?.state === "completed", { timeoutMs: 10_000 });
    const backlogLeft = 400 - order.indexOf("urgent");
    expect(backlogLeft).toBeGreaterThan(100);
    await consumer.close({ drain: false });
    await queue.close();
  });
});
