import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { abortReason, sleep } from "../conformance.js";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";
import { slowSchema } from "./schema.js";

/** Cancelling jobs: pending ones never run, active ones are signalled and end cancelled. */
export function cancelTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("cancel", () => {
    const kit = suite.useKit();

    const tracked = () => {
      const ran: string[] = [];
      const task = defineTask({
        name: "conformance.tracked",
        run: (input: { tag: string }) => {
          ran.push(input.tag);
          return input.tag;
        },
      });
      return { ran, task };
    };

    it("a waiting job cancelled is never run, and result() rejects with JobCancelledError", async () => {
      const k = kit();
      const { ran, task } = tracked();
      const conveyor = await k.platform({ tasks: [task] });
      const victim = await conveyor.enqueue(task, { tag: "victim" });
      const marker = await conveyor.enqueue(task, { tag: "marker" });
      expect(await victim.cancel()).toBe("cancelled");
      const record = await victim.get();
      expect(record.state).toBe("cancelled");
      expect(record.finishedAt).toBeGreaterThanOrEqual(record.createdAt);

      k.worker({ concurrency: 1 });
      await marker.result({ timeoutMs: k.ms(5_000) });
      expect(ran).toEqual(["marker"]);
      expect(await victim.status()).toBe("cancelled");
      expectConveyorError(await caught(() => victim.result()), "JobCancelledError");
    });

    it.skipIf(!caps.cancelActive)(
      "an active job cancelled sees ctx.signal abort with JobCancelledError and ends cancelled",
      async () => {
        const k = kit();
        const started = k.gate();
        let reason: unknown;
        const task = defineTask({
          name: "conformance.longRunning",
          run: async (input: { tag: string }, ctx) => {
            if (input.tag === "next") return "next done";
            started.resolve();
            reason = await abortReason(ctx.signal);
            return "ignored";
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker({ concurrency: 1 });
        const job = await conveyor.enqueue(task, { tag: "long" });
        await started.promise;
        const waiting = caught(() => job.result({ timeoutMs: k.ms(5_000) }));
        expect(await job.cancel()).toBe("requested");

        expectConveyorError(await waiting, "JobCancelledError");
        const record = await k.until(job.id, "cancelled");
        expect(record.finishedAt).toBeGreaterThanOrEqual(record.createdAt);
        await k.waitFor(() => reason !== undefined, "the handler to see its signal abort");
        expectConveyorError(reason, "JobCancelledError");

        const next = await conveyor.enqueue(task, { tag: "next" });
        expect(await next.result({ timeoutMs: k.ms(5_000) })).toBe("next done");
      },
    );

    it.skipIf(!caps.cancelActive)(
      "a job cancelled before its task started (still validating) never runs it",
      async () => {
        const k = kit();
        const validating = k.gate();
        const proceed = k.gate();
        let runs = 0;
        const task = defineTask({
          name: "conformance.slowInput",
          input: slowSchema<{ n: number }>(() => {
            validating.resolve();
            return proceed.promise;
          }),
          run: () => {
            runs += 1;
            return "ran";
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const raw = k.newJob({ task: "conformance.slowInput", input: { n: 1 } });
        await k.queue.add([raw]);
        await validating.promise;
        expect(await conveyor.cancel(raw.id)).toBe("requested");
        proceed.resolve();
        await k.until(raw.id, "cancelled");
        await sleep(k.ms(30));
        expect(runs).toBe(0);
      },
    );

    it("cancel answers finished for a finished job and not-found for an unknown id", async () => {
      const k = kit();
      const { task } = tracked();
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, { tag: "done" });
      await job.result({ timeoutMs: k.ms(5_000) });
      expect(await job.cancel()).toBe("finished");
      expect(await job.get()).toMatchObject({ state: "completed", result: "done" });
      expect(await conveyor.cancel(k.jobId("missing"))).toBe("not-found");
    });

    it.skipIf(!caps.delayed)("a delayed job cancelled never runs, even after its time", async () => {
      const k = kit();
      const { ran, task } = tracked();
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, { tag: "delayed" }, { delayMs: k.ms(80) });
      expect(await job.cancel()).toBe("cancelled");
      await sleep(k.ms(200));
      const marker = await conveyor.enqueue(task, { tag: "marker" });
      await marker.result({ timeoutMs: k.ms(5_000) });
      expect(ran).toEqual(["marker"]);
      expect(await job.status()).toBe("cancelled");
    });

    it.skipIf(!caps.delayed)(
      "a job waiting to retry can be cancelled and gets no further attempt",
      async () => {
        const k = kit();
        let runs = 0;
        const task = defineTask({
          name: "conformance.failsOnce",
          retries: 3,
          backoff: { type: "fixed", delayMs: k.ms(150) },
          run: () => {
            runs += 1;
            throw new Error("first attempt fails");
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        await k.until(job.id, "retrying");
        expect(await job.cancel()).toBe("cancelled");
        await sleep(k.ms(300));
        expect(runs).toBe(1);
        expect(await job.status()).toBe("cancelled");
        expectConveyorError(await caught(() => job.result()), "JobCancelledError");
      },
    );
  });
}
