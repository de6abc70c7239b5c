import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Unknown task names never run: refused at enqueue, failed (not crashed) at the worker. */
export function unknownTaskTests(suite: QueueSuite): void {
  describe("unknown task", () => {
    const kit = suite.useKit();

    it("enqueue and enqueueMany by an unregistered name throw UnknownTaskError and add nothing", async () => {
      const k = kit();
      const known = defineTask({ name: "conformance.known", run: () => "ok" });
      const conveyor = await k.platform({ tasks: [known] });
      const error = expectConveyorError(
        await caught(() => conveyor.enqueue("conformance.nope", {})),
        "UnknownTaskError",
      );
      expect(error.code).toBe("UNKNOWN_TASK");
      expect(error.details).toMatchObject({ task: "conformance.nope" });
      expect(error.message).toContain("conformance.known");
      expectConveyorError(
        await caught(() => conveyor.enqueueMany("conformance.nope", [{ input: {} }])),
        "UnknownTaskError",
      );
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });

    it("a job naming an unknown task fails with UnknownTaskError, is not retried, and the worker survives", async () => {
      const k = kit();
      const known = defineTask({ name: "conformance.known", run: (input: { n: number }) => input.n });
      const conveyor = await k.platform({ tasks: [known] });
      k.worker({ concurrency: 1 });
      const raw = k.newJob({ task: "conformance.ghost", input: { n: 1 }, maxAttempts: 3 });
      await k.queue.add([raw]);
      const failed = await k.until(raw.id, "failed");
      expect(failed.attempt).toBe(1);
      expect(failed.error).toMatchObject({ name: "UnknownTaskError", code: "UNKNOWN_TASK", attempt: 1 });
      expect(failed.error?.message).toContain("conformance.ghost");

      const next = await conveyor.enqueue(known, { n: 5 });
      expect(await next.result({ timeoutMs: k.ms(5_000) })).toBe(5);
    });

    it("a malformed job (input that is not an object) fails with a clear reason and the worker survives", async () => {
      const k = kit();
      const known = defineTask({
        name: "conformance.known",
        run: (input: { n: number }) => {
          if (typeof input?.n !== "number") throw new TypeError("input.n must be a number");
          return input.n;
        },
      });
      const conveyor = await k.platform({ tasks: [known] });
      k.worker({ concurrency: 1 });
      const raw = k.newJob({ task: "conformance.known", input: "garbage" });
      await k.queue.add([raw]);
      const failed = await k.until(raw.id, "failed");
      expect(failed.error).toMatchObject({ name: "TypeError", message: "input.n must be a number" });
      const next = await conveyor.enqueue(known, { n: 9 });
      expect(await next.result({ timeoutMs: k.ms(5_000) })).toBe(9);
    });
  });
}
