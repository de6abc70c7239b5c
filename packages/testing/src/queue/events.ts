import { defineTask, type JobEvent, type Task } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { sleep } from "../conformance.js";
import type { QueueKit, QueueSuite } from "./kit.js";

// Typed as strings: the list of event types grows with the contract.
const types = (events: readonly JobEvent[]): string[] => events.map((e) => e.type);

/**
 * Runs one job of `task` (input `null`) under a worker, watching its events until the first of
 * type `last`; the subscription is closed before the caller checks them.
 */
async function watchOneJob(
  k: QueueKit,
  task: Task<unknown, unknown>,
  name: string,
  last: string,
): Promise<{ jobId: string; events: JobEvent[] }> {
  const conveyor = await k.platform({ tasks: [task] });
  const jobId = k.jobId(name);
  const events: JobEvent[] = [];
  const unsubscribe = await k.queue.subscribe((event) => events.push(event), { jobId });
  try {
    k.worker();
    await conveyor.enqueue(task, null, { jobId });
    await k.waitFor(() => events.some((e) => e.type === last), `the ${last} event`);
  } finally {
    await unsubscribe();
  }
  return { jobId, events };
}

/** Lifecycle events: delivered in order, per job and per queue; job handles stream them. */
export function eventsTests(suite: QueueSuite): void {
  const { capabilities: caps } = suite;

  describe("events", () => {
    const kit = suite.useKit();

    it.skipIf(!caps.events)(
      "one job's events arrive in order: added, active, progress, completed",
      async () => {
        const k = kit();
        const task = defineTask({
          name: "conformance.evented",
          run: async (_input: unknown, ctx) => {
            await ctx.progress(1, 1, "all done");
            return { answer: 42 };
          },
        });
        const { jobId, events } = await watchOneJob(k, task, "evented", "completed");
        expect(types(events)).toEqual(["added", "active", "progress", "completed"]);
        for (const event of events) {
          expect(event.jobId).toBe(jobId);
          expect(event.queue).toBe(k.queueName());
          expect(typeof event.at).toBe("number");
        }
        expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort((a, b) => a - b));
        const of = (type: string) => events.find((e) => e.type === type)!;
        expect(of("active").attempt).toBe(1);
        expect(of("progress").progress).toEqual({ current: 1, total: 1, message: "all done" });
        expect(of("completed").result).toEqual({ answer: 42 });
      },
    );

    it.skipIf(!caps.events)(
      "a retried job emits retrying, then active again for the next attempt",
      async () => {
        const k = kit();
        const task = defineTask({
          name: "conformance.retried",
          retries: 1,
          backoff: { type: "fixed", delayMs: k.ms(20) },
          run: (_input: unknown, ctx) => {
            if (ctx.attempt === 1) throw new Error("first attempt fails");
            return "second attempt";
          },
        });
        const { events } = await watchOneJob(k, task, "retried", "completed");
        expect(types(events)).toEqual(["added", "active", "retrying", "waiting", "active", "completed"]);
        const retrying = events.find((e) => e.type === "retrying")!;
        expect(retrying.error).toMatchObject({ message: "first attempt fails", attempt: 1 });
        expect(retrying.runAt).toBeGreaterThanOrEqual(retrying.at);
        expect(events.filter((e) => e.type === "active").map((e) => e.attempt)).toEqual([1, 2]);
      },
    );

    it.skipIf(!caps.events)("a failed job's last event is failed, carrying the stored error", async () => {
      const k = kit();
      const task = defineTask({
        name: "conformance.failing",
        run: () => {
          throw new RangeError("out of range");
        },
      });
      const { events } = await watchOneJob(k, task, "failing", "failed");
      expect(types(events)).toEqual(["added", "active", "failed"]);
      expect(events.at(-1)!.error).toMatchObject({
        name: "RangeError",
        message: "out of range",
        attempt: 1,
      });
    });

    it.skipIf(!caps.events)(
      "a queue subscription sees its queue's jobs only, and unsubscribe stops delivery",
      async () => {
        const k = kit();
        const task = defineTask({ name: "conformance.plain", run: (input: { n: number }) => input.n });
        const conveyor = await k.platform({ tasks: [task] });
        const events: JobEvent[] = [];
        const unsubscribe = await k.queue.subscribe((event) => events.push(event), {
          queue: k.queueName("watched"),
        });
        k.worker({ queues: [k.queueName("watched"), k.queueName("other")] });
        const watched = await conveyor.enqueue(task, { n: 1 }, { queue: k.queueName("watched") });
        const other = await conveyor.enqueue(task, { n: 2 }, { queue: k.queueName("other") });
        await watched.result({ timeoutMs: k.ms(5_000) });
        await other.result({ timeoutMs: k.ms(5_000) });
        await k.waitFor(
          () => events.some((e) => e.type === "completed"),
          "the watched job's completed event",
        );
        expect(events.every((e) => e.jobId === watched.id && e.queue === k.queueName("watched"))).toBe(true);

        await unsubscribe();
        const count = events.length;
        const later = await conveyor.enqueue(task, { n: 3 }, { queue: k.queueName("watched") });
        await later.result({ timeoutMs: k.ms(5_000) });
        await sleep(k.ms(30));
        expect(events).toHaveLength(count);
      },
    );

    it.skipIf(!caps.events)(
      "job.events() streams a retry as retrying then active, and ends after completed",
      async () => {
        const k = kit();
        const listening = k.gate();
        const task = defineTask({
          name: "conformance.heartbeat",
          retries: 1,
          run: async (_input: unknown, ctx) => {
            // Heartbeats until the test has seen one, so the stream is known to be listening.
            for (let beat = 1; ctx.attempt === 1 && !listening.settled; beat++) {
              await ctx.progress(beat);
              await sleep(10);
            }
            if (ctx.attempt === 1) throw new Error("first attempt fails");
            return "second attempt";
          },
        });
        const conveyor = await k.platform({ tasks: [task] });
        k.worker();
        const job = await conveyor.enqueue(task, null);
        const seen: JobEvent[] = [];
        for await (const event of job.events({ signal: AbortSignal.timeout(k.ms(10_000)) })) {
          seen.push(event);
          if (event.type === "progress") listening.resolve();
        }
        const afterListening = seen.slice(seen.findIndex((e) => e.type === "progress"));
        expect(types(afterListening.filter((e) => e.type !== "progress"))).toEqual([
          "retrying",
          "waiting",
          "active",
          "completed",
        ]);
        expect(seen.at(-1)).toMatchObject({ type: "completed", jobId: job.id, result: "second attempt" });
      },
    );

    it.skipIf(!caps.events)(
      "a job ready again emits waiting: a delayed job coming due, a manual retry, a release by a closing worker",
      async () => {
        const k = kit();
        const task = defineTask({
          name: "conformance.again",
          run: async (input: { mode: "plain" | "fail" | "hold" }, ctx) => {
            if (input.mode === "fail") throw new Error("fails until retried by hand");
            if (input.mode === "hold" && ctx.attempt === 1 && !released.settled) {
              held.resolve();
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
              throw ctx.signal.reason;
            }
            return input.mode;
          },
        });
        const held = k.gate();
        const released = k.gate();
        const conveyor = await k.platform({ tasks: [task] });
        const byJob = new Map<string, JobEvent[]>();
        const unsubscribe = await k.queue.subscribe(
          (event) => byJob.set(event.jobId, [...(byJob.get(event.jobId) ?? []), event]),
          { queue: k.queueName() },
        );
        const typesOf = (id: string) => types(byJob.get(id) ?? []);
        try {
          const first = k.worker();
          const failing = await conveyor.enqueue(task, { mode: "fail" });
          await k.until(failing.id, "failed");
          const hold = await conveyor.enqueue(task, { mode: "hold" });
          await held.promise;
          await first.close({ drain: false });
          released.resolve();
          await k.until(hold.id, "waiting");
          await k.waitFor(() => typesOf(hold.id).at(-1) === "waiting", "the released job's waiting event");
          expect(typesOf(hold.id)).toEqual(["added", "active", "waiting"]);

          await conveyor.retry(failing.id);
          await k.waitFor(() => typesOf(failing.id).at(-1) === "waiting", "the retried job's waiting event");
          expect(typesOf(failing.id)).toEqual(["added", "active", "failed", "waiting"]);

          if (caps.delayed) {
            const later = await conveyor.enqueue(task, { mode: "plain" }, { delayMs: k.ms(50) });
            k.worker();
            await later.result({ timeoutMs: k.ms(5_000) });
            await k.waitFor(
              () => typesOf(later.id).at(-1) === "completed",
              "the delayed job's completed event",
            );
            // Whether a delayed add also emits `delayed` is the adapter's choice.
            expect([
              ["added", "waiting", "active", "completed"],
              ["added", "delayed", "waiting", "active", "completed"],
            ]).toContainEqual(typesOf(later.id));
          }
        } finally {
          await unsubscribe();
        }
      },
    );

    it("job.events() on a finished job yields its final event once and ends", async () => {
      const k = kit();
      const task = defineTask({
        name: "conformance.outcome",
        run: (input: { fail: boolean }) => {
          if (input.fail) throw new Error("asked to fail");
          return "fine";
        },
      });
      const conveyor = await k.platform({ tasks: [task] });
      const cancelled = await conveyor.enqueue(task, { fail: false });
      await cancelled.cancel();
      k.worker();
      const completed = await conveyor.enqueue(task, { fail: false });
      const failed = await conveyor.enqueue(task, { fail: true });
      await k.until(completed.id, "completed");
      await k.until(failed.id, "failed");

      const collect = async (id: string) => {
        const events: JobEvent[] = [];
        for await (const event of conveyor.job(id).events({ signal: AbortSignal.timeout(k.ms(5_000)) })) {
          events.push(event);
        }
        return events;
      };
      const [onCompleted, onFailed, onCancelled] = await Promise.all([
        collect(completed.id),
        collect(failed.id),
        collect(cancelled.id),
      ]);
      expect(onCompleted).toHaveLength(1);
      expect(onCompleted[0]).toMatchObject({ type: "completed", jobId: completed.id, result: "fine" });
      expect(onFailed).toHaveLength(1);
      expect(onFailed[0]).toMatchObject({
        type: "failed",
        jobId: failed.id,
        error: { message: "asked to fail" },
      });
      expect(onCancelled).toHaveLength(1);
      expect(onCancelled[0]).toMatchObject({ type: "cancelled", jobId: cancelled.id });
    });
  });
}
