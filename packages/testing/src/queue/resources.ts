import { definePlugin, defineResource, defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import type { QueueSuite } from "./kit.js";

/** Worker resources: loaded lazily once, shared by concurrent jobs, disposed once when the worker closes. */
export function resourcesTests(suite: QueueSuite): void {
  describe("resources", () => {
    const kit = suite.useKit();

    const modelPlugin = (options: { failFirstLoads?: number } = {}) => {
      const stats = { loads: 0, disposed: [] as unknown[], loadSignals: [] as AbortSignal[] };
      const model = defineResource({
        name: "conformance.model",
        load: async ({ signal }) => {
          stats.loads += 1;
          stats.loadSignals.push(signal);
          signal.throwIfAborted();
          await sleep(20);
          if (stats.loads <= (options.failFirstLoads ?? 0)) throw new Error(`load ${stats.loads} failed`);
          return { id: stats.loads };
        },
        dispose: (value) => {
          stats.disposed.push(value);
        },
      });
      const infer = defineTask({
        name: "conformance.infer",
        run: async (input: { n: number }, ctx) => {
          const loaded = await ctx.resource(model);
          return { n: input.n, model: loaded.id };
        },
      });
      const plain = defineTask({ name: "conformance.plain", run: () => "no model" });
      const plugin = definePlugin({ name: "conformance", tasks: [infer, plain], resources: [model] });
      return { stats, plugin, infer, plain };
    };

    it("a resource is loaded once for many concurrent jobs and disposed once when the worker closes", async () => {
      const k = kit();
      const { stats, plugin, infer } = modelPlugin();
      const conveyor = await k.platform({ plugins: [plugin] });
      const worker = k.worker({ concurrency: 5 });
      const jobs = await conveyor.enqueueMany(
        infer,
        Array.from({ length: 10 }, (_, n) => ({ input: { n } })),
      );
      const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: k.ms(5_000) })));
      expect(results.map((r) => r.model)).toEqual(Array(10).fill(1));
      expect(stats.loads).toBe(1);
      expect(stats.disposed).toEqual([]);
      await worker.close();
      expect(stats.disposed).toEqual([{ id: 1 }]);
      await conveyor.close();
      expect(stats.disposed).toHaveLength(1);
    });

    it("resources are never loaded where work is only enqueued, nor by tasks that do not use them", async () => {
      const k = kit();
      const { stats, plugin, infer, plain } = modelPlugin();
      const conveyor = await k.platform({ plugins: [plugin] });
      const pending = await conveyor.enqueue(infer, { n: 1 });
      await sleep(k.ms(30));
      expect(stats.loads).toBe(0);
      const worker = k.worker({ queues: [k.queueName("plain")] });
      const job = await conveyor.enqueue(plain, null, { queue: k.queueName("plain") });
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("no model");
      await worker.close();
      expect(stats.loads).toBe(0);
      expect(stats.disposed).toEqual([]);
      expect(await pending.status()).toBe("waiting");
    });

    it("a failed load is not kept: the next job loads the resource again", async () => {
      const k = kit();
      const { stats, plugin, infer } = modelPlugin({ failFirstLoads: 1 });
      const conveyor = await k.platform({ plugins: [plugin] });
      k.worker({ concurrency: 1 });
      const first = await conveyor.enqueue(infer, { n: 1 });
      const failed = await k.until(first.id, "failed");
      expect(failed.error?.message).toBe("load 1 failed");
      const second = await conveyor.enqueue(infer, { n: 2 });
      expect(await second.result({ timeoutMs: k.ms(5_000) })).toEqual({ n: 2, model: 2 });
      expect(stats.loads).toBe(2);
    });

    it("a worker started after another closed loads the resource afresh, with a live signal", async () => {
      const k = kit();
      const { stats, plugin, infer } = modelPlugin();
      const conveyor = await k.platform({ plugins: [plugin] });
      const first = k.worker();
      expect(await (await conveyor.enqueue(infer, { n: 1 })).result({ timeoutMs: k.ms(5_000) })).toEqual({
        n: 1,
        model: 1,
      });
      await first.close();
      expect(stats.disposed).toEqual([{ id: 1 }]);

      const second = k.worker();
      const job = await conveyor.enqueue(infer, { n: 2 });
      const done = await k.until(job.id, "completed", "failed");
      expect(stats.loads).toBe(2);
      expect(stats.loadSignals[1]?.aborted).toBe(false);
      expect(done.error).toBeUndefined();
      expect(done.result).toEqual({ n: 2, model: 2 });
      await second.close();
      expect(stats.disposed).toEqual([{ id: 1 }, { id: 2 }]);
    });
  });
}
