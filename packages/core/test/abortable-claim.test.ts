import { describe, expect, it } from "vitest";
import { AbortableClaim } from "../src/index.js";

class Claim extends AbortableClaim {}

describe("AbortableClaim", () => {
  it("reaches the listener and the signal once, with the first reason", () => {
    const claim = new Claim();
    const heard: unknown[] = [];
    claim.onAbort((reason) => heard.push(reason));
    const signal = claim.signal;
    expect(signal.aborted).toBe(false);
    const first = new Error("cancelled");
    claim.abort(first);
    claim.abort(new Error("closing"));
    expect(heard).toEqual([first]);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(first);
    expect(claim.abortReason).toBe(first);
  });

  it("tells a listener set after the abort at once, and a signal read after it is already aborted", () => {
    const claim = new Claim();
    claim.abort("lease lost");
    const heard: unknown[] = [];
    claim.onAbort((reason) => heard.push(reason));
    expect(heard).toEqual(["lease lost"]);
    expect(claim.signal.aborted).toBe(true);
    expect(claim.signal.reason).toBe("lease lost");
  });
});
