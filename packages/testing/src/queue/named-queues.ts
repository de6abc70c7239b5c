import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import type { QueueSuite } from "./kit.js";

/** Named queues route work: a worker only takes jobs of the queues it consumes. */
export function namedQueuesTests(suite: QueueSuite): void {
  describe("named queues", () => {
    const kit = suite.useKit();

    const pair = (queueA: string, queueB: string) => {
      const ran: string[] = [];
      const taskA = defineTask({
        name: "conformance.onA",
        queue: queueA,
        run: (input: { n: number }) => {
          ran.push(`a${input.n}`);
          return input.n;
        },
      });
      const taskB = defineTask({
        name: "conformance.onB",
        queue: queueB,
        run: (input: { n: number }) => {
          ran.push(`b${input.n}`);
          return input.n;
        },
      });
      return { ran, taskA, taskB };
    };

    it("a worker on queue A never takes jobs of queue B", async () => {
      const k = kit();
      const { ran, taskA, taskB } = pair(k.queueName("a"), k.queueName("b"));
      const conveyor = await k.platform({ tasks: [taskA, taskB] });
      const onB = await conveyor.enqueue(taskB, { n: 1 });
      const onA = await conveyor.enqueueMany(taskA, [{ input: { n: 1 } }, { input: { n: 2 } }]);
      expect(onB.queue).toBe(k.queueName("b"));
      expect(onA[0]!.queue).toBe(k.queueName("a"));
      k.worker({ queues: [k.queueName("a")], concurrency: 2 });
      for (const job of onA) await job.result({ timeoutMs: k.ms(5_000) });
      await sleep(k.ms(100));
      expect(await onB.status()).toBe("waiting");
      expect(ran.sort()).toEqual(["a1", "a2"]);

      k.worker({ queues: [k.queueName("b")] });
      expect(await onB.result({ timeoutMs: k.ms(5_000) })).toBe(1);
    });

    it("the queue option at enqueue overrides the task's queue", async () => {
      const k = kit();
      const { taskA, taskB } = pair(k.queueName("a"), k.queueName("b"));
      const conveyor = await k.platform({ tasks: [taskA, taskB] });
      const job = await conveyor.enqueue(taskA, { n: 7 }, { queue: k.queueName("b") });
      expect(job.queue).toBe(k.queueName("b"));
      expect((await job.get()).queue).toBe(k.queueName("b"));
      k.worker({ queues: [k.queueName("a")] });
      await sleep(k.ms(100));
      expect(await job.status()).toBe("waiting");
      k.worker({ queues: [k.queueName("b")] });
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe(7);
    });

    it("a worker on several queues takes jobs from each, and by default consumes every task's queue", async () => {
      const k = kit();
      const { ran, taskA, taskB } = pair(k.queueName("a"), k.queueName("b"));
      const plain = defineTask({ name: "conformance.plain", run: () => "default queue" });
      const conveyor = await k.platform({ tasks: [taskA, taskB, plain] });
      const worker = k.worker();
      expect([...worker.queues].sort()).toEqual([k.queueName(), k.queueName("a"), k.queueName("b")].sort());
      const a = await conveyor.enqueue(taskA, { n: 1 });
      const b = await conveyor.enqueue(taskB, { n: 2 });
      const d = await conveyor.enqueue(plain, null);
      expect(d.queue).toBe(k.queueName());
      await a.result({ timeoutMs: k.ms(5_000) });
      await b.result({ timeoutMs: k.ms(5_000) });
      expect(await d.result({ timeoutMs: k.ms(5_000) })).toBe("default queue");
      expect(ran.sort()).toEqual(["a1", "b2"]);
    });
  });
}
