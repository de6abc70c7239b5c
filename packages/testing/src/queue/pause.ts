import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** A paused queue keeps its jobs (still counted) but hands none out until resumed. */
export function pauseTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("pause and resume", () => {
    const kit = suite.useKit();

    const tracked = () => {
      const ran: number[] = [];
      const task = defineTask({
        name: "conformance.tracked",
        run: (input: { n: number }) => {
          ran.push(input.n);
          return input.n;
        },
      });
      return { ran, task };
    };

    it.skipIf(!caps.pause)(
      "a paused queue hands out nothing; its jobs stay waiting and counted; resume runs them",
      async () => {
        const k = kit();
        const { ran, task } = tracked();
        const conveyor = await k.platform({ tasks: [task] });
        await conveyor.pause(k.queueName());
        const jobs = await conveyor.enqueueMany(task, [
          { input: { n: 1 } },
          { input: { n: 2 } },
          { input: { n: 3 } },
        ]);
        k.worker({ concurrency: 3 });
        await sleep(k.ms(150));
        expect(ran).toEqual([]);
        expect(await conveyor.counts(k.queueName())).toMatchObject({ waiting: 3, active: 0 });
        for (const job of jobs) expect(await job.status()).toBe("waiting");
        const info = (await conveyor.queues()).find((q) => q.name === k.queueName());
        expect(info).toMatchObject({ name: k.queueName(), paused: true });

        await conveyor.resume(k.queueName());
        for (const job of jobs) await job.result({ timeoutMs: k.ms(5_000) });
        expect([...ran].sort()).toEqual([1, 2, 3]);
        expect((await conveyor.queues()).find((q) => q.name === k.queueName())?.paused).toBe(false);
      },
    );

    it.skipIf(!caps.pause)("pausing lets the running job finish but starts no further job", async () => {
      const k = kit();
      const hold = k.gate();
      const started = k.gate();
      const ran: string[] = [];
      const task = defineTask({
        name: "conformance.held",
        run: async (input: { tag: string }) => {
          ran.push(input.tag);
          if (input.tag === "running") {
            started.resolve();
            await hold.promise;
          }
          return input.tag;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      k.worker({ concurrency: 1 });
      const running = await conveyor.enqueue(task, { tag: "running" });
      await started.promise;
      await conveyor.pause(k.queueName());
      const queued = await conveyor.enqueue(task, { tag: "queued" });
      hold.resolve();
      expect(await running.result({ timeoutMs: k.ms(5_000) })).toBe("running");
      await sleep(k.ms(100));
      expect(await queued.status()).toBe("waiting");
      expect(ran).toEqual(["running"]);
      await conveyor.resume(k.queueName());
      expect(await queued.result({ timeoutMs: k.ms(5_000) })).toBe("queued");
    });

    it.skipIf(!caps.pause)("pausing one queue leaves other queues running", async () => {
      const k = kit();
      const { ran, task } = tracked();
      const conveyor = await k.platform({ tasks: [task] });
      await conveyor.pause(k.queueName("paused"));
      k.worker({ queues: [k.queueName("paused"), k.queueName("live")] });
      const held = await conveyor.enqueue(task, { n: 1 }, { queue: k.queueName("paused") });
      const live = await conveyor.enqueue(task, { n: 2 }, { queue: k.queueName("live") });
      expect(await live.result({ timeoutMs: k.ms(5_000) })).toBe(2);
      await sleep(k.ms(50));
      expect(await held.status()).toBe("waiting");
      expect(ran).toEqual([2]);
    });

    it("without the pause capability (a view hiding it), pause and resume throw UnsupportedFeatureError", async () => {
      const k = kit();
      const conveyor = await k.platform({}, ["pause"]);
      expectConveyorError(await caught(() => conveyor.pause(k.queueName())), "UnsupportedFeatureError");
      expectConveyorError(await caught(() => conveyor.resume(k.queueName())), "UnsupportedFeatureError");
    });
  });
}
