import { ClosedError, ValidationError } from "@conveyor/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryRateLimiter } from "../src/index.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("memory rate limiter", () => {
  it("grants points per fixed window that starts at the first consume", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 3, durationMs: 1_000 };
    vi.advanceTimersByTime(250);
    expect(await limiter.consume("k", limit)).toEqual({
      allowed: true,
      remaining: 2,
      resetMs: 1_000,
      consumed: 1,
    });
    vi.advanceTimersByTime(400);
    expect(await limiter.consume("k", limit, 2)).toEqual({
      allowed: true,
      remaining: 0,
      resetMs: 600,
      consumed: 3,
    });
    expect(await limiter.consume("k", limit)).toEqual({
      allowed: false,
      remaining: 0,
      resetMs: 600,
      consumed: 3,
    });
    expect(await limiter.peek("k", limit)).toEqual({
      allowed: false,
      remaining: 0,
      resetMs: 600,
      consumed: 3,
    });
    vi.advanceTimersByTime(600);
    expect(await limiter.peek("k", limit)).toEqual({ allowed: true, remaining: 3, resetMs: 0, consumed: 0 });
    expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, remaining: 2, resetMs: 1_000 });
    await limiter.close();
  });

  it("never grants more than the points under many concurrent calls, per key", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 10, durationMs: 60_000 };
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => limiter.consume(i % 2 === 0 ? "even" : "odd", limit)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(20);
    await limiter.close();
  });

  it("blocks for blockDurationMs after going over, then starts afresh", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 1, durationMs: 1_000, blockDurationMs: 5_000 };
    expect((await limiter.consume("k", limit)).allowed).toBe(true);
    expect(await limiter.consume("k", limit)).toEqual({
      allowed: false,
      remaining: 0,
      resetMs: 5_000,
      consumed: 1,
    });
    vi.advanceTimersByTime(2_000); // the window is over, the block is not
    expect(await limiter.consume("k", limit)).toMatchObject({ allowed: false, resetMs: 3_000 });
    vi.advanceTimersByTime(3_000);
    expect(await limiter.consume("k", limit)).toEqual({
      allowed: true,
      remaining: 0,
      resetMs: 1_000,
      consumed: 1,
    });
    await limiter.close();
  });

  it("refuses a cost above the points without using any", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 5, durationMs: 1_000 };
    expect(await limiter.consume("k", limit, 6)).toMatchObject({ allowed: false, consumed: 0 });
    expect(await limiter.consume("k", limit, 5)).toMatchObject({ allowed: true, remaining: 0 });
    await limiter.close();
  });

  it("resets a key and validates limits", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 1, durationMs: 1_000 };
    await limiter.consume("k", limit);
    await limiter.reset("k");
    expect((await limiter.consume("k", limit)).allowed).toBe(true);
    await expect(limiter.consume("k", { points: 0, durationMs: 1_000 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(limiter.consume("k", { points: 1, durationMs: -1 })).rejects.toBeInstanceOf(ValidationError);
    await limiter.close();
    await expect(limiter.consume("k", limit)).rejects.toBeInstanceOf(ClosedError);
  });

  it("forgets finished windows so many one-off keys do not pile up", async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { points: 1, durationMs: 10 };
    for (let i = 0; i < 5_000; i++) {
      await limiter.consume(`k${i}`, limit);
      if (i % 100 === 0) vi.advanceTimersByTime(20);
    }
    // Windows of the earlier keys ended; a later consume of an old key starts a fresh window.
    expect(await limiter.consume("k0", limit)).toMatchObject({ allowed: true, consumed: 1 });
    await limiter.close();
  });
});
