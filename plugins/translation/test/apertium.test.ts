import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeSegment, encodeSegment } from "../src/apertium.js";
import {
  type ApertiumEngine,
  apertium,
  EngineUnavailableError,
  TranslationEngineError,
  UnsupportedLanguageError,
} from "../src/index.js";

const engines: ApertiumEngine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()?.close();
});

async function load(options: Parameters<typeof apertium>[0] = {}): Promise<ApertiumEngine> {
  const engine = await apertium(options).load();
  engines.push(engine);
  return engine;
}

/** A modes folder holding fake pairs: each "mode" is a one-stage pipeline. */
function fakeModes(modes: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-modes-"));
  for (const [name, pipeline] of Object.entries(modes)) writeFileSync(join(dir, `${name}.mode`), pipeline);
  return dir;
}

describe("apertium() on the real eng-spa pair", () => {
  it("translates en→es and es→en with the engine's real output", async () => {
    const engine = await load();
    expect(await engine.translate(["The cat is on the table."], { from: "en", to: "es" })).toEqual([
      "El gato es en la mesa.",
    ]);
    expect(await engine.translate(["El perro come una manzana."], { from: "es", to: "en" })).toEqual([
      "The dog eats an apple.",
    ]);
    expect(engine.stats().running.sort()).toEqual(["eng-spa", "spa-eng"]);
  });

  it("keeps one pipeline per pair for many calls, answers in order, and leaves blank texts alone", async () => {
    const engine = await load();
    const texts = Array.from({ length: 300 }, (_, i) => `I have ${i + 1} apples.`);
    const calls = await Promise.all(
      [0, 100, 200].map((start) =>
        engine.translate(texts.slice(start, start + 100), { from: "en", to: "es" }),
      ),
    );
    const answers = calls.flat();
    expect(answers).toHaveLength(300);
    answers.forEach((answer, i) => {
      expect(answer).toContain(`${i + 1}`);
      expect(answer).toMatch(/manzanas/);
    });
    expect(await engine.translate(["", "   ", "~", "..."], { from: "en", to: "es" })).toEqual([
      "",
      "   ",
      "~",
      "...",
    ]);
    expect(engine.stats().started).toBe(1);
  });

  it("escapes Apertium's reserved characters and removes NUL, keeping the text around them", async () => {
    const engine = await load();
    const [answer] = await engine.translate(["Price: $5 [approx] a/b <tag> {x} ^ \\ @home\0 now."], {
      from: "en",
      to: "es",
    });
    for (const kept of ["$5", "[approx]", "<", ">", "{x}", "^", "\\", "@"]) expect(answer).toContain(kept);
    expect(answer).not.toContain("\0");
  });

  it("strips unknown-word marks by default and keeps them with markUnknown", async () => {
    const plain = await load();
    expect(await plain.translate(["I like zxqwords."], { from: "en", to: "es" })).toEqual([
      "Me gusta zxqwords.",
    ]);
    const marked = await load({ markUnknown: true });
    expect(await marked.translate(["I like zxqwords."], { from: "en", to: "es" })).toEqual([
      "Me gusta *zxqwords.",
    ]);
    expect(apertium({ markUnknown: true }).cacheId).not.toBe(apertium().cacheId);
  });

  it("maps ISO codes to modes, lists its pairs and refuses a pair it lacks with the ones it has", async () => {
    const engine = await load();
    const pairs = await engine.languages();
    expect(pairs).toEqual(
      expect.arrayContaining([
        { from: "en", to: "es" },
        { from: "es", to: "en" },
        { from: "es", to: "en-US" },
      ]),
    );
    expect(await engine.translate(["Hola."], { from: "spa", to: "eng" })).toEqual(["Hello."]);
    const error = await engine.translate(["Hello."], { from: "en", to: "de" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedLanguageError);
    expect((error as UnsupportedLanguageError).message).toMatch(/en→de .*en→es.*apt-get install apertium-/);
    expect(engine.stats().started).toBe(1);
  });

  it("rejects an aborted call with the signal's reason and keeps the pipeline in order", async () => {
    const engine = await load();
    const controller = new AbortController();
    const pending = engine.translate(["The first dog runs.", "The second dog runs."], {
      from: "en",
      to: "es",
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
    expect(await engine.translate(["The cat is on the table."], { from: "en", to: "es" })).toEqual([
      "El gato es en la mesa.",
    ]);
    expect(engine.stats().started).toBe(1);
  });
});

describe("apertium() pipeline failures (fake one-stage modes)", () => {
  it("restarts a pipeline that exited and rejects what was in flight as retryable", async () => {
    // sed -z q: answers the first segment, then exits.
    const engine = await load({ modesDir: fakeModes({ "aaa-bbb": "sed -u -z q" }), healthCheck: false });
    const error = await engine.translate(["one", "two"], { from: "aaa", to: "bbb" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranslationEngineError);
    expect((error as TranslationEngineError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/aaa-bbb pipeline exited/);
    expect(await engine.translate(["three"], { from: "aaa", to: "bbb" })).toEqual(["three"]);
    expect(engine.stats().started).toBe(2);
  });

  it("never accepts an empty answer for a non-blank text", async () => {
    const engine = await load({ modesDir: fakeModes({ "aaa-bbb": "sed -u -z s/.*//" }), healthCheck: false });
    const error = await engine.translate(["not empty"], { from: "aaa", to: "bbb" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranslationEngineError);
    expect((error as Error).message).toMatch(/empty text/);
  });

  it("kills a stalled pipeline after stallTimeoutMs and rejects the waiting texts", async () => {
    const engine = await load({
      modesDir: fakeModes({ "aaa-bbb": "tail -f /dev/null" }),
      healthCheck: false,
      stallTimeoutMs: 300,
    });
    const error = await engine.translate(["a", "b"], { from: "aaa", to: "bbb" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranslationEngineError);
    expect((error as Error).message).toMatch(/answered nothing for 300 ms with 2 texts waiting/);
  });

  it("fails the load with what to install when no pair is there, and a bad pipeline at its health check", async () => {
    await expect(apertium({ modesDir: join(tmpdir(), "no-such-modes") }).load()).rejects.toBeInstanceOf(
      EngineUnavailableError,
    );
    await expect(apertium({ modesDir: fakeModes({}) }).load()).rejects.toThrow(
      /apt-get install apertium-eng-spa/,
    );
    const engine = await load({ modesDir: fakeModes({ "aaa-bbb": "sed -u -z s/.*//" }) });
    await expect(engine.translate(["x"], { from: "aaa", to: "bbb" })).rejects.toThrow(/health check/);
  });
});

describe("Apertium stream format", () => {
  it("round-trips reserved characters and removes superblanks and marks", () => {
    const source = "a^b$c@d/e<f>g[h]i\\j{k}l";
    const encoded = encodeSegment(source);
    expect(encoded.endsWith("[]\0")).toBe(true);
    expect(decodeSegment(encoded.slice(0, -1), source, false)).toBe(source);
    expect(decodeSegment("El [<b>]gato[[t:i:x]]es @casa *zz #ir[]", "x", false)).toBe("El gatoes casa zz ir");
    expect(decodeSegment("El *zz #ir", "a #tag and *star", false)).toBe("El *zz #ir");
    expect(decodeSegment("El *zz #ir @x", "x", true)).toBe("El *zz #ir @x");
  });
});
