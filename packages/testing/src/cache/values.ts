import { describe, expect, it } from "vitest";
import type { CacheSuite } from "./kit.js";

const VALUES: readonly [string, unknown][] = [
  ["a nested object", { a: { b: { c: { d: "deep" } } }, list: [{ x: 1 }, { y: [2, 3] }] }],
  ["an array of mixed values", [1, "two", true, null, { five: 5 }, [6]]],
  [
    "integers, negatives, floats and zero",
    { zero: 0, negative: -42, float: 2.5e-3, big: Number.MAX_SAFE_INTEGER, tiny: 1e-7 },
  ],
  ["a bare number", 1234.5],
  ["booleans", { yes: true, no: false }],
  ["a bare false", false],
  ["null inside structures", { missing: null, list: [null, null] }],
  [
    "unicode strings",
    {
      accents: "héllo wörld",
      cjk: "日本語のテキスト",
      emoji: "🚀✨👍🏽",
      rtl: "مرحبا",
      escapes: 'quote " backslash \\ newline \n tab \t',
    },
  ],
  ["an empty string, object and array", { s: "", o: {}, a: [] }],
  ["a large string", "x".repeat(64 * 1024)],
];

/** JSON-serialisable values of every kind round-trip unchanged. */
export function valuesTests(suite: CacheSuite): void {
  describe("JSON values", () => {
    it.each(VALUES)("%s round-trips", async (_label, value) => {
      const cache = await suite.create();
      await cache.set("value", value);
      expect(await cache.get("value")).toStrictEqual(value);
      expect(await cache.getMany(["value"])).toStrictEqual([value]);
    });
  });
}
