import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** A worker runs at most `concurrency` handlers at once, keeps that many busy, and claims each job once. */
export function concurrencyTests(suite: QueueSuite): void {
  describe("concurrency", () => {
    const kit = suite.useKit();

    const meter = () => {
      const state = { inFlight: 0, max: 0, runs: new Map<number, number>() };
      const task = defineTask({
        name: "conformance.metered",
        run: async (input: { n: number }) => {
          state.inFlight += 1;
          state.max = Math.max(state.max, state.inFlight);
          state.runs.set(input.n, (state.runs.get(input.n) ?? 0) + 1);
          await sleep(5 + (input.n % 4) * 3);
          state.inFlight -= 1;
          return input.n;
        },
      });
      return { state, task };
    };

    it("40 jobs at concurrency 4 run exactly 4 at a time at most, and all complete", async () => {
      const k = kit();
      const { state, task } = meter();
      const conveyor = await k.platform({ tasks: [task] });
      const jobs = await conveyor.enqueueMany(
        task,
        Array.from({ length: 40 }, (_, n) => ({ input: { n } })),
      );
      k.worker({ concurrency: 4 });
      const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(10_000) })));
      expect(results).toEqual(Array.from({ length: 40 }, (_, n) => n));
      expect(state.max).toBe(4);
      expect([...state.runs.values()].every((count) => count === 1)).toBe(true);
    });

    it("concurrency 1 runs jobs strictly one after another", async () => {
      const k = kit();
      const { state, task } = meter();
      const conveyor = await k.platform({ tasks: [task] });
      const jobs = await conveyor.enqueueMany(
        task,
        Array.from({ length: 10 }, (_, n) => ({ input: { n } })),
      );
      k.worker({ concurrency: 1 });
      await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(10_000) })));
      expect(state.max).toBe(1);
    });

    it("two workers on one queue never claim the same job twice", async () => {
      const k = kit();
      const { state, task } = meter();
      const conveyor = await k.platform({ tasks: [task] });
      const jobs = await conveyor.enqueueMany(
        task,
        Array.from({ length: 30 }, (_, n) => ({ input: { n } })),
      );
      k.worker({ concurrency: 2 });
      k.worker({ concurrency: 2 });
      await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(10_000) })));
      expect(state.runs.size).toBe(30);
      expect([...state.runs.values()].every((count) => count === 1)).toBe(true);
      expect(state.max).toBeLessThanOrEqual(4);
    });

    it("worker.active and counts show the running jobs while the rest wait", async () => {
      const k = kit();
      const hold = k.gate();
      let running = 0;
      const task = defineTask({
        name: "conformance.held",
        run: async () => {
          running += 1;
          await hold.promise;
          return null;
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      await conveyor.enqueueMany(
        task,
        Array.from({ length: 5 }, () => ({ input: null })),
      );
      const worker = k.worker({ concurrency: 3 });
      await k.waitFor(() => running === 3, "three handlers running");
      await sleep(k.ms(30));
      expect(running).toBe(3);
      expect(worker.active).toBe(3);
      expect(await conveyor.counts(k.queueName())).toMatchObject({ active: 3, waiting: 2 });
      const active = await conveyor.listJobs({ queue: k.queueName(), states: ["active"] });
      expect(active).toHaveLength(3);
      for (const record of active) {
        expect(record.workerId).toBe(worker.id);
        expect(record.attempt).toBe(1);
        expect(record.startedAt).toBeGreaterThanOrEqual(record.createdAt);
      }
      hold.resolve();
      await k.waitFor(
        async () => (await conveyor.counts(k.queueName())).completed === 5,
        "all five completed",
      );
    });

    it("a concurrency below 1 is refused with ConfigError", async () => {
      const k = kit();
      await k.platform();
      expectConveyorError(await caught(() => k.worker({ concurrency: 0 })), "ConfigError");
    });
  });
}
