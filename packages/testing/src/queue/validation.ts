import { defineTask, type ValidationError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";
import { array, number, numeric, object, schema, string } from "./schema.js";

/** Input validated before enqueue and again by the worker; output validated after run. */
export function validationTests(suite: QueueSuite): void {
  describe("validation", () => {
    const kit = suite.useKit();

    const orderSchema = schema(
      object({ customer: string(), items: array(object({ sku: string(), qty: number() })) }),
    );

    const makeTask = () => {
      const runs: unknown[] = [];
      const task = defineTask({
        name: "conformance.order",
        input: orderSchema,
        retries: 3,
        run: (input) => {
          runs.push(input);
          return input.items.reduce((sum, item) => sum + item.qty, 0);
        },
      });
      return { runs, task };
    };

    it("invalid input is refused at enqueue with a ValidationError listing every issue by path", async () => {
      const k = kit();
      const { task } = makeTask();
      const conveyor = await k.platform({ tasks: [task] });
      const bad = {
        customer: 42,
        items: [
          { sku: "a", qty: 1 },
          { sku: "b", qty: "two" },
        ],
      };
      const error = expectConveyorError<ValidationError>(
        await caught(() => conveyor.enqueue(task, bad as never)),
        "ValidationError",
      );
      expect(error.code).toBe("VALIDATION");
      expect(error.issues.map((i) => i.path).sort()).toEqual(["customer", "items.1.qty"]);
      expect(error.message).toContain("items.1.qty");
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ waiting: 0, delayed: 0 });
    });

    it("enqueue by name validates too", async () => {
      const k = kit();
      const { task } = makeTask();
      const conveyor = await k.platform({ tasks: [task] });
      const error = expectConveyorError<ValidationError>(
        await caught(() => conveyor.enqueue("conformance.order", { customer: "c" })),
        "ValidationError",
      );
      expect(error.issues).toEqual([{ path: "items", message: "expected an array" }]);
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });

    it("one invalid item rejects the whole enqueueMany and nothing is enqueued", async () => {
      const k = kit();
      const { task } = makeTask();
      const conveyor = await k.platform({ tasks: [task] });
      const good = { customer: "c", items: [{ sku: "a", qty: 1 }] };
      const error = expectConveyorError<ValidationError>(
        await caught(() =>
          conveyor.enqueueMany(task, [
            { input: good },
            { input: { customer: "c", items: [{ sku: 5, qty: 1 }] } as never },
            { input: good },
          ]),
        ),
        "ValidationError",
      );
      expect(error.issues.map((i) => i.path)).toEqual(["[1].items.0.sku"]);
      expect(await k.queue.listJobs({ queue: k.queueName() })).toEqual([]);
    });

    it("the parsed value (after coercion) is what gets stored and run", async () => {
      const k = kit();
      const seen: unknown[] = [];
      const task = defineTask({
        name: "conformance.coerce",
        input: schema(object({ n: numeric() })),
        run: (input) => {
          seen.push(input);
          return input.n + 1;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, { n: "41" as unknown as number });
      expect((await job.get()).input).toEqual({ n: 41 });
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe(42);
      expect(seen).toEqual([{ n: 41 }]);
    });

    it("a job with invalid input added past enqueue fails at the worker with ValidationError, not retried", async () => {
      const k = kit();
      const { runs, task } = makeTask();
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const raw = k.newJob({
        task: "conformance.order",
        input: { customer: 1, items: "none" },
        maxAttempts: 4,
      });
      await k.queue.add([raw]);
      const failed = await k.until(raw.id, "failed");
      expect(failed.attempt).toBe(1);
      expect(failed.error).toMatchObject({ name: "ValidationError", code: "VALIDATION", attempt: 1 });
      expect(failed.error?.message).toContain("customer");
      expect(runs).toEqual([]);

      const next = await conveyor.enqueue(task, { customer: "c", items: [{ sku: "a", qty: 3 }] });
      expect(await next.result({ timeoutMs: k.ms(5_000) })).toBe(3);
    });

    it("output that fails the output schema fails the job at once, not retried", async () => {
      const k = kit();
      let runs = 0;
      const task = defineTask({
        name: "conformance.badOutput",
        output: schema(number()),
        retries: 3,
        run: () => {
          runs += 1;
          return "not a number" as unknown as number;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(runs).toBe(1);
      expect(failed.attempt).toBe(1);
      expect(failed.error).toMatchObject({ name: "ValidationError", attempt: 1 });
      expect(failed.error?.message).toContain("output");
      expect(failed.result).toBeUndefined();
    });
  });
}
