import { defineTask } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import { caught, expectConveyorError, type QueueSuite } from "./kit.js";

/** Results and errors are stored with the job, kept for their TTL, and awaited through handles. */
export function resultsTtlTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("results and their TTL", () => {
    const kit = suite.useKit();

    it.skipIf(!caps.results)(
      "a result round-trips as JSON data and expiresAt follows resultTtlMs",
      async () => {
        const k = kit();
        const value = {
          text: "héllo wörld ✓ 日本語",
          list: [1, 2.5, -3, 0],
          nested: { flag: true, off: false, nothing: null, deeper: { empty: [], blank: "" } },
        };
        const task = defineTask({ name: "conformance.structured", run: () => value });
        const resultTtlMs = 60_000;
        const conveyor = await k.platform({ tasks: [task], resultTtlMs });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        expect(await job.result({ timeoutMs: k.ms(5_000) })).toEqual(value);
        const record = await job.get();
        expect(record.result).toEqual(value);
        expect(record.finishedAt).toBeGreaterThanOrEqual(record.startedAt ?? 0);
        expect(record.expiresAt).toBeGreaterThanOrEqual((record.startedAt ?? 0) + resultTtlMs);
        expect(record.expiresAt).toBeLessThanOrEqual((record.finishedAt ?? 0) + resultTtlMs + 1_000);
      },
    );

    it.skipIf(!caps.results)("a completed job is gone once resultTtlMs has passed", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.shortLived", run: () => "soon gone" });
      const conveyor = await k.platform({ tasks: [task], resultTtlMs: k.ms(150) });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("soon gone");
      await k.waitFor(async () => (await k.queue.getJob(job.id)) === undefined, "the result to expire");
      expectConveyorError(await caught(() => job.status()), "JobNotFoundError");
      expectConveyorError(await caught(() => job.result()), "JobNotFoundError");
      expect((await conveyor.listJobs({ queue: k.queueName() })).map((j) => j.id)).not.toContain(job.id);
    });

    it.skipIf(!caps.results)("a cancelled job is kept for resultTtlMs, then gone", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.neverRun", run: () => "unreachable" });
      const conveyor = await k.platform({ tasks: [task], resultTtlMs: k.ms(150) });
      const byHandle = await conveyor.enqueue(task, null);
      const byPlatform = await conveyor.enqueue(task, null);
      expect(await byHandle.cancel()).toBe("cancelled");
      expect(await conveyor.cancel(byPlatform.id)).toBe("cancelled");
      expect(await byHandle.status()).toBe("cancelled");
      for (const job of [byHandle, byPlatform]) {
        await k.waitFor(
          async () => (await k.queue.getJob(job.id)) === undefined,
          "the cancelled job to expire",
        );
      }
    });

    it.skipIf(!caps.results)(
      "failed jobs stay as dead letters past resultTtlMs when failedTtlMs is not set",
      async () => {
        const k = kit();
        const task = defineTask({
          name: "conformance.deadLetter",
          run: () => {
            throw new Error("keep me");
          },
        });
        const conveyor = await k.platform({ tasks: [task], resultTtlMs: k.ms(50) });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        const failed = await k.until(job.id, "failed");
        expect(failed.expiresAt).toBeUndefined();
        await sleep(k.ms(200));
        expect(await job.get()).toMatchObject({ state: "failed", error: { message: "keep me" } });
      },
    );

    it.skipIf(!caps.results)("failed jobs are gone once failedTtlMs has passed", async () => {
      const k = kit();
      const task = defineTask({
        name: "conformance.shortDeadLetter",
        run: () => {
          throw new Error("drop me");
        },
      });
      const conveyor = await k.platform({ tasks: [task], failedTtlMs: k.ms(150) });
      k.worker();
      const job = await conveyor.enqueue(task, null);
      const failed = await k.until(job.id, "failed");
      expect(failed.expiresAt).toBeGreaterThan(failed.startedAt ?? 0);
      await k.waitFor(async () => (await k.queue.getJob(job.id)) === undefined, "the failed job to expire");
    });

    it.skipIf(!caps.results)(
      "result({ timeoutMs }) gives up with TimeoutError and the job keeps running",
      async () => {
        const k = kit();
        const hold = k.gate();
        const task = defineTask({
          name: "conformance.slowResult",
          run: async () => {
            await hold.promise;
            return "eventually";
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        await k.until(job.id, "active");
        const error = expectConveyorError(
          await caught(() => job.result({ timeoutMs: k.ms(50) })),
          "TimeoutError",
        );
        expect(error.code).toBe("TIMEOUT");
        expect(await job.status()).toBe("active");
        hold.resolve();
        expect(await job.result({ timeoutMs: k.ms(5_000) })).toBe("eventually");
      },
    );

    it.skipIf(!caps.results)("result({ signal }) stops waiting when the signal aborts", async () => {
      const k = kit();
      const task = defineTask({ name: "conformance.neverRun", run: () => "unreachable" });
      const conveyor = await k.platform({ tasks: [task] });
      const job = await conveyor.enqueue(task, null);
      const controller = new AbortController();
      const waiting = caught(() => job.result({ signal: controller.signal }));
      await sleep(k.ms(20));
      controller.abort(new Error("caller gave up"));
      expect(((await waiting) as Error).message).toBe("caller gave up");
      expect(await job.status()).toBe("waiting");
    });

    it.skipIf(!caps.results)(
      "aborted result() waits leave no timers behind, so the process can exit",
      async () => {
        const k = kit();
        const task = defineTask({ name: "conformance.neverRun", run: () => "unreachable" });
        const conveyor = await k.platform({ tasks: [task] });
        const job = await conveyor.enqueue(task, null);
        const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
        const before = timers();
        // Twenty waits, so one leaked timer per wait stands well clear of unrelated timers coming and going.
        const waits = 20;
        const controllers = Array.from({ length: waits }, () => new AbortController());
        const waiting = controllers.map((controller) =>
          caught(() => job.result({ signal: controller.signal })),
        );
        await sleep(k.ms(30));
        for (const controller of controllers) controller.abort(new Error("caller gave up"));
        for (const error of await Promise.all(waiting))
          expect((error as Error).message).toBe("caller gave up");
        await sleep(k.ms(20));
        expect(timers() - before).toBeLessThan(waits / 2);
      },
    );
  });
}
