import { describe, expect, it } from "vitest";
import { copyValue } from "../src/copy.js";

describe("copyValue", () => {
  it("deep-copies plain data", () => {
    const value = { a: [1, { b: "c" }], d: null, e: undefined, f: 1n };
    const copy = copyValue(value);
    expect(copy).toStrictEqual(value);
    expect(copy.a).not.toBe(value.a);
    expect(copy.a[1]).not.toBe(value.a[1]);
  });

  it("follows structuredClone for everything else, including cycles", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const copy = copyValue(cyclic);
    expect(copy.self).toBe(copy);
    expect(copy).not.toBe(cyclic);
    const rich = { when: new Date(1), map: new Map([["k", 1]]), bytes: new Uint8Array([1, 2]) };
    expect(copyValue(rich)).toStrictEqual(rich);
    class Point {
      constructor(public x = 1) {}
    }
    expect(copyValue(new Point())).toStrictEqual({ x: 1 });
  });

  it("refuses functions and symbols like structuredClone", () => {
    expect(() => copyValue({ fn: () => 1 })).toThrow();
    expect(() => copyValue([Symbol("s")])).toThrow();
  });
});
