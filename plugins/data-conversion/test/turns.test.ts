import { describe, expect, it } from "vitest";
import { takeTurn } from "../src/turns.js";

describe("takeTurn", () => {
  it("gives turns on one key first come, first served, and keys do not wait for each other", async () => {
    const key = {};
    const order: string[] = [];
    const never = new AbortController().signal;
    const first = await takeTurn(key, never, () => order.push("first waits"));
    const second = takeTurn(key, never, () => order.push("second waits")).then((release) => {
      order.push("second");
      release();
    });
    const third = takeTurn(key, never).then((release) => {
      order.push("third");
      release();
    });
    const other = await takeTurn({}, never);
    order.push("other key");
    other();
    await Promise.resolve();
    expect(order).toEqual(["second waits", "other key"]);
    first();
    first();
    await Promise.all([second, third]);
    expect(order).toEqual(["second waits", "other key", "second", "third"]);
    let waited = false;
    (await takeTurn(key, never, () => (waited = true)))();
    expect(waited).toBe(false);
  });

  it("leaves the line when its signal aborts while waiting, and later turns no longer wait for it", async () => {
    const key = {};
    const never = new AbortController().signal;
    const first = await takeTurn(key, never);
    const cancel = new AbortController();
    const waiting = takeTurn(key, cancel.signal);
    let later = false;
    const after = takeTurn(key, never).then((release) => {
      later = true;
      release();
    });
    cancel.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    expect(later).toBe(false);
    first();
    await after;
    expect(later).toBe(true);
    const aborted = AbortSignal.abort(new Error("already"));
    await expect(takeTurn(key, aborted)).rejects.toThrow("already");
  });
});
