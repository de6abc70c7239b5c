import { describe, expect, it } from "vitest";
import type { RateLimit, RateLimiter, RateLimitResult } from "../src/contracts/rate-limiter.js";
import type { Logger } from "../src/contracts/task.js";
import { BackendUnavailableError, ValidationError } from "../src/errors.js";
import { isOutageError, withInsurance } from "../src/insurance.js";

/**
 * A minimal fixed-window limiter, real enough to count; `down = true` makes every call fail the
 * way a backend that cannot be reached does.
 */
class FixedWindowLimiter implements RateLimiter {
  down = false;
  calls = 0;
  closed = false;
  private readonly windows = new Map<string, { endsAt: number; consumed: number }>();
  constructor(readonly name: string) {}

  private check(): void {
    this.calls++;
    if (this.down) throw new BackendUnavailableError(this.name, "connect ECONNREFUSED 127.0.0.1:6379");
  }

  private window(key: string, limit: RateLimit) {
    const now = Date.now();
    let window = this.windows.get(key);
    if (window === undefined || now >= window.endsAt) {
      window = { endsAt: now + limit.durationMs, consumed: 0 };
      this.windows.set(key, window);
    }
    return { window, now };
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateLimitResult> {
    this.check();
    if (cost < 0) throw new ValidationError("the rate limit", [{ path: "cost", message: "negative" }]);
    const { window, now } = this.window(key, limit);
    const allowed = window.consumed + cost <= limit.points;
    if (allowed) window.consumed += cost;
    const remaining = allowed ? limit.points - window.consumed : 0;
    return { allowed, remaining, resetMs: window.endsAt - now, consumed: window.consumed };
  }

  async peek(key: string, limit: RateLimit): Promise<RateLimitResult> {
    this.check();
    const { window, now } = this.window(key, limit);
    const remaining = Math.max(0, limit.points - window.consumed);
    return { allowed: remaining > 0, remaining, resetMs: window.endsAt - now, consumed: window.consumed };
  }

  async reset(key: string): Promise<void> {
    this.check();
    this.windows.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines, warnings: () => lines.filter((l) => l.level === "warn") };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const limit = { points: 3, durationMs: 60_000 };

describe("withInsurance", () => {
  it("answers from the primary while it is up and leaves the insurance untouched", async () => {
    const primary = new FixedWindowLimiter("redis");
    const insurance = new FixedWindowLimiter("local");
    const limiter = withInsurance(primary, insurance);
    expect(limiter.name).toBe("redis");
    expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, remaining: 2, consumed: 1 });
    expect(await limiter.peek("k", limit)).toMatchObject({ remaining: 2 });
    expect(primary.calls).toBe(2);
    expect(insurance.calls).toBe(0);
  });

  it("switches to the insurance on an outage with one warning, and back once the primary answers", async () => {
    const primary = new FixedWindowLimiter("redis");
    const insurance = new FixedWindowLimiter("local");
    const { log, lines, warnings } = recordingLogger();
    const switches: string[] = [];
    const limiter = withInsurance(primary, insurance, {
      log,
      probeMinMs: 30,
      onSwitch: (to) => switches.push(to),
    });

    await limiter.consume("k", limit);
    primary.down = true;
    // Concurrent calls during the outage: all answered, one warning.
    const during = await Promise.all(Array.from({ length: 5 }, () => limiter.consume("k", limit)));
    expect(during.filter((a) => a.allowed)).toHaveLength(3);
    expect(await limiter.consume("k", limit)).toMatchObject({ allowed: false, remaining: 0 });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.message).toMatch(/rate limits are enforced per process while redis is unreachable/);
    expect(switches).toEqual(["insurance"]);

    // Before the probe is due the primary is not asked at all.
    const callsBefore = primary.calls;
    await limiter.consume("other", limit);
    expect(primary.calls).toBe(callsBefore);

    primary.down = false;
    await sleep(40);
    // The first call after the probe delay asks the primary, which answers: back to it.
    expect(await limiter.consume("k", limit)).toMatchObject({ allowed: true, consumed: 2 });
    expect(switches).toEqual(["insurance", "primary"]);
    expect(lines.some((l) => l.level === "info" && /answers again/.test(l.message))).toBe(true);
    const insuranceCalls = insurance.calls;
    await limiter.consume("k", limit);
    expect(insurance.calls).toBe(insuranceCalls);

    // A second outage warns again: one warning per outage.
    primary.down = true;
    await limiter.consume("k", limit);
    expect(warnings()).toHaveLength(2);
  });

  it("probes the primary with a doubling delay while it stays down", async () => {
    const primary = new FixedWindowLimiter("redis");
    const insurance = new FixedWindowLimiter("local");
    const limiter = withInsurance(primary, insurance, { probeMinMs: 20, probeMaxMs: 80 });
    primary.down = true;
    await limiter.consume("k", limit); // starts the outage
    const probes: number[] = [];
    const started = Date.now();
    let seen = primary.calls;
    while (Date.now() - started < 400) {
      await limiter.consume("k", { points: 1_000, durationMs: 60_000 });
      if (primary.calls !== seen) {
        seen = primary.calls;
        probes.push(Date.now() - started);
      }
      await sleep(2);
    }
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    // 20 → 40 → 80 → 80 …: never more often than the growing delay, capped at probeMaxMs.
    expect(probes.length).toBeGreaterThanOrEqual(3);
    expect(probes.length).toBeLessThanOrEqual(8);
    expect(gaps[0]!).toBeGreaterThanOrEqual(39);
    for (const gap of gaps.slice(1)) expect(gap).toBeGreaterThanOrEqual(79);
  });

  it("throws errors that are not outages instead of switching", async () => {
    const primary = new FixedWindowLimiter("redis");
    const insurance = new FixedWindowLimiter("local");
    const { log, warnings } = recordingLogger();
    const limiter = withInsurance(primary, insurance, { log });
    await expect(limiter.consume("k", limit, -1)).rejects.toThrow(ValidationError);
    expect(warnings()).toHaveLength(0);
    expect(insurance.calls).toBe(0);
  });

  it("reset forgets the key in both; close closes both", async () => {
    const primary = new FixedWindowLimiter("redis");
    const insurance = new FixedWindowLimiter("local");
    const limiter = withInsurance(primary, insurance);
    const one = { points: 1, durationMs: 60_000 };
    await limiter.consume("k", one);
    await insurance.consume("k", one);
    await limiter.reset("k");
    expect(await primary.peek("k", one)).toMatchObject({ remaining: 1 });
    expect(await insurance.peek("k", one)).toMatchObject({ remaining: 1 });
    primary.down = true;
    await limiter.reset("k"); // the primary is down: the insurance is still reset, nothing thrown
    await limiter.close();
    expect(primary.closed && insurance.closed).toBe(true);
  });
});

describe("isOutageError", () => {
  it("knows backend and socket errors, directly or as a cause, and nothing else", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(isOutageError(new BackendUnavailableError("redis", "down"))).toBe(true);
    expect(isOutageError(refused)).toBe(true);
    expect(isOutageError(new Error("wrapped", { cause: refused }))).toBe(true);
    expect(isOutageError(new ValidationError("x", [{ path: "", message: "bad" }]))).toBe(false);
    expect(isOutageError(new TypeError("bad argument"))).toBe(false);
    expect(isOutageError("ECONNREFUSED")).toBe(false);
  });
});
