import { describe, expect, it } from "vitest";
import type { JobRecord, NewJob } from "../src/contracts/job.js";
import { IllegalTransitionError } from "../src/errors.js";
import {
  applyOutcome,
  backoffDelayMs,
  cancelRecord,
  canTransition,
  claimRecord,
  compareReady,
  createRecord,
  decideAfterError,
  isReady,
  outcomeEvent,
  releaseRecord,
  retryRecord,
  TRANSITIONS,
} from "../src/state-machine.js";

const NOW = 1_700_000_000_000;
const newJob = (over: Partial<NewJob> = {}): NewJob => ({
  id: "j1",
  queue: "q",
  task: "t.run",
  input: { a: 1 },
  priority: 0,
  runAt: NOW,
  maxAttempts: 3,
  createdAt: NOW,
  ...over,
});
const error = (attempt: number, retryable?: boolean) => ({
  name: "Error",
  message: "boom",
  attempt,
  ...(retryable === undefined ? {} : { retryable }),
});

describe("job state machine", () => {
  it("creates ready jobs as waiting and future jobs as delayed", () => {
    expect(createRecord(newJob(), NOW).state).toBe("waiting");
    expect(createRecord(newJob({ runAt: NOW + 1 }), NOW).state).toBe("delayed");
    expect(createRecord(newJob(), NOW).attempt).toBe(0);
  });

  it("claims a waiting job: active, attempt counted, worker recorded", () => {
    const claimed = claimRecord(createRecord(newJob(), NOW), "w1", NOW + 5);
    expect(claimed).toMatchObject({ state: "active", attempt: 1, startedAt: NOW + 5, workerId: "w1" });
  });

  it("refuses to claim a job that is not pending", () => {
    const done = applyOutcome(
      claimRecord(createRecord(newJob(), NOW), "w", NOW),
      { type: "completed", result: 1 },
      NOW,
    );
    expect(() => claimRecord(done, "w", NOW)).toThrow(IllegalTransitionError);
  });

  it("terminal states only lead back to waiting (manual retry)", () => {
    for (const state of ["completed", "failed", "cancelled"] as const)
      expect(TRANSITIONS[state]).toEqual(["waiting"]);
    expect(canTransition("waiting", "completed")).toBe(false);
    expect(canTransition("active", "completed")).toBe(true);
  });

  it("completes with result and expiry and drops the worker id", () => {
    const active = claimRecord(createRecord(newJob(), NOW), "w", NOW);
    const done = applyOutcome(
      active,
      { type: "completed", result: { ok: true }, expiresAt: NOW + 10 },
      NOW + 2,
    );
    expect(done).toMatchObject({
      state: "completed",
      result: { ok: true },
      finishedAt: NOW + 2,
      expiresAt: NOW + 10,
    });
    expect(done.workerId).toBeUndefined();
  });

  it("retries while attempts remain, then fails for good", () => {
    let job: JobRecord = createRecord(
      newJob({ maxAttempts: 2, backoff: { type: "fixed", delayMs: 100 } }),
      NOW,
    );
    job = claimRecord(job, "w", NOW);
    const first = decideAfterError(job, error(1), NOW);
    expect(first).toEqual({ type: "retry", error: error(1), runAt: NOW + 100 });
    job = applyOutcome(job, first, NOW);
    expect(job.state).toBe("retrying");
    expect(isReady(job, NOW + 99)).toBe(false);
    expect(isReady(job, NOW + 100)).toBe(true);
    job = claimRecord(job, "w", NOW + 100);
    expect(job.attempt).toBe(2);
    const second = decideAfterError(job, error(2), NOW + 100, { failedExpiresAt: NOW + 999 });
    expect(second).toEqual({ type: "failed", error: error(2), expiresAt: NOW + 999 });
    expect(applyOutcome(job, second, NOW + 100).state).toBe("failed");
  });

  it("fails at once on a non-retryable error", () => {
    const job = claimRecord(createRecord(newJob({ maxAttempts: 5 }), NOW), "w", NOW);
    expect(decideAfterError(job, error(1, false), NOW).type).toBe("failed");
  });

  it("postpone does not use up the attempt", () => {
    const job = claimRecord(createRecord(newJob(), NOW), "w", NOW);
    const later = applyOutcome(job, { type: "postpone", runAt: NOW + 50, reason: "rate limit" }, NOW);
    expect(later).toMatchObject({ state: "delayed", attempt: 0, runAt: NOW + 50 });
  });

  it("release hands the job back without counting the attempt unless asked", () => {
    const job = claimRecord(createRecord(newJob(), NOW), "w", NOW);
    expect(releaseRecord(job, false)).toMatchObject({ state: "waiting", attempt: 0 });
    expect(releaseRecord(job, true)).toMatchObject({ state: "waiting", attempt: 1 });
  });

  it("manual retry resets attempts, error, result and expiry", () => {
    const job = claimRecord(createRecord(newJob({ maxAttempts: 1 }), NOW), "w", NOW);
    const failed = applyOutcome(job, { type: "failed", error: error(1), expiresAt: NOW + 5 }, NOW);
    const again = retryRecord(failed, NOW + 10);
    expect(again).toMatchObject({ state: "waiting", attempt: 0, runAt: NOW + 10 });
    expect(again.error).toBeUndefined();
    expect(again.expiresAt).toBeUndefined();
    expect(() => retryRecord(again, NOW)).toThrow(IllegalTransitionError);
  });

  it("cancels pending jobs but not finished ones", () => {
    expect(cancelRecord(createRecord(newJob(), NOW), NOW).state).toBe("cancelled");
    const done = applyOutcome(
      claimRecord(createRecord(newJob(), NOW), "w", NOW),
      { type: "completed", result: 1 },
      NOW,
    );
    expect(() => cancelRecord(done, NOW)).toThrow(IllegalTransitionError);
  });

  it("orders ready jobs by priority, then runAt, then creation", () => {
    const a = { priority: 0, runAt: 5, createdAt: 1 };
    const b = { priority: 10, runAt: 9, createdAt: 2 };
    const c = { priority: 0, runAt: 5, createdAt: 0 };
    expect([a, b, c].sort(compareReady)).toEqual([b, c, a]);
  });

  it("names the event of each outcome", () => {
    const job = claimRecord(createRecord(newJob(), NOW), "w", NOW);
    expect(outcomeEvent(job, { type: "retry", error: error(1), runAt: 9 }, NOW)).toMatchObject({
      type: "retrying",
      runAt: 9,
    });
    expect(outcomeEvent(job, { type: "postpone", runAt: 9, reason: "x" }, NOW).type).toBe("delayed");
  });
});

describe("backoff", () => {
  it("fixed waits the same each time", () => {
    expect([1, 2, 3].map((n) => backoffDelayMs({ type: "fixed", delayMs: 200 }, n))).toEqual([200, 200, 200]);
  });
  it("exponential doubles and respects the cap", () => {
    const b = { type: "exponential" as const, delayMs: 100, maxDelayMs: 500 };
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(b, n))).toEqual([100, 200, 400, 500]);
  });
  it("jitter takes up to its fraction off the delay", () => {
    const b = { type: "fixed" as const, delayMs: 1000, jitter: 0.5 };
    expect(backoffDelayMs(b, 1, () => 0)).toBe(1000);
    expect(backoffDelayMs(b, 1, () => 1)).toBe(500);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(b, 1);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
  it("no backoff means no delay", () => {
    expect(backoffDelayMs(undefined, 3)).toBe(0);
  });
});
