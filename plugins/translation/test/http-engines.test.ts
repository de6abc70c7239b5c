import type { RateLimiter } from "@conveyor/core";
import { createMemoryRateLimiter } from "@conveyor/memory";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { retryAfterMs } from "../src/http.js";
import {
  deepl,
  EngineUnavailableError,
  libreTranslate,
  openAiChat,
  type TranslateBatchResult,
  TranslationEngineError,
} from "../src/index.js";
import { FakeApis, fakeTranslate } from "./support/fake-apis.js";
import { platform } from "./support/platform.js";

let api: FakeApis;
beforeAll(async () => {
  api = await new FakeApis().start();
});
afterAll(async () => {
  await api.stop();
});
afterEach(() => {
  api.received.length = 0;
});

const fast = { retryDelayMs: 10 };

describe("libreTranslate()", () => {
  it("sends q as an array with source, target, format and api_key, in batches, and lists pairs", async () => {
    const engine = await libreTranslate({ url: api.url, apiKey: "k1", batchSize: 2, ...fast }).load();
    const texts = ["one two", "three four", "", "five six", "seven"];
    expect(await engine.translate(texts, { from: "en", to: "es" })).toEqual(
      texts.map((text) => (text ? fakeTranslate(text, "es") : text)),
    );
    const requests = api.to("/translate");
    expect(requests.map((request) => request.body.q)).toEqual([
      ["one two", "three four"],
      ["five six", "seven"],
    ]);
    expect(requests[0]?.body).toMatchObject({ source: "en", target: "es", format: "text", api_key: "k1" });
    expect(await engine.languages()).toEqual([
      { from: "en", to: "es" },
      { from: "en", to: "fr" },
      { from: "es", to: "en" },
    ]);
  });

  it("retries a 429 after its Retry-After, and fails a 400 at once with the server's message", async () => {
    const engine = await libreTranslate({ url: api.url, ...fast }).load();
    api.script("/translate", {
      status: 429,
      headers: { "retry-after": "1" },
      body: { error: "Too many requests" },
    });
    expect(await engine.translate(["a b"], { from: "en", to: "es" })).toEqual([fakeTranslate("a b", "es")]);
    const [first, second] = api.to("/translate");
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);

    api.received.length = 0;
    api.script("/translate", { status: 400, body: { error: "es is not supported" } });
    const error = await engine.translate(["a b"], { from: "en", to: "es" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranslationEngineError);
    expect((error as TranslationEngineError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/HTTP 400 .*es is not supported/);
    expect(api.to("/translate")).toHaveLength(1);
  });

  it("needs a URL, from the option or LIBRETRANSLATE_URL", async () => {
    const saved = process.env.LIBRETRANSLATE_URL;
    delete process.env.LIBRETRANSLATE_URL;
    try {
      await expect(libreTranslate().load()).rejects.toBeInstanceOf(EngineUnavailableError);
      process.env.LIBRETRANSLATE_URL = api.url;
      const engine = await libreTranslate().load();
      expect(await engine.translate(["x y"], { from: "en", to: "es" })).toEqual([fakeTranslate("x y", "es")]);
    } finally {
      if (saved === undefined) delete process.env.LIBRETRANSLATE_URL;
      else process.env.LIBRETRANSLATE_URL = saved;
    }
  });
});

describe("deepl()", () => {
  it("authenticates with DeepL-Auth-Key from DEEPL_API_KEY, sends 50 texts a request, maps codes", async () => {
    const saved = process.env.DEEPL_API_KEY;
    process.env.DEEPL_API_KEY = "secret:fx";
    try {
      const seen: string[] = [];
      // A free key goes to api-free.deepl.com: this fetch records the URL and serves it locally.
      const local: typeof fetch = (input, init) => {
        seen.push(String(input));
        return fetch(String(input).replace("https://api-free.deepl.com", api.url), init);
      };
      const engine = await deepl({ fetch: local, formality: "less", ...fast }).load();
      const texts = Array.from({ length: 60 }, (_, i) => `text number ${i}`);
      expect(await engine.translate(texts, { from: "en-GB", to: "es" })).toEqual(
        texts.map((text) => fakeTranslate(text, "ES")),
      );
      expect(seen.every((url) => url === "https://api-free.deepl.com/v2/translate")).toBe(true);
      const requests = api.to("/v2/translate");
      expect(requests.map((request) => request.body.text.length)).toEqual([50, 10]);
      expect(requests[0]?.headers.authorization).toBe("DeepL-Auth-Key secret:fx");
      expect(requests[0]?.body).toMatchObject({ source_lang: "EN", target_lang: "ES", formality: "less" });
      await engine.translate(["hello"], { from: "es", to: "en" });
      expect(api.to("/v2/translate").at(-1)?.body.target_lang).toBe("EN-US");
    } finally {
      if (saved === undefined) delete process.env.DEEPL_API_KEY;
      else process.env.DEEPL_API_KEY = saved;
    }
  });

  it("retries 5xx, treats 456 (quota exceeded) as final, and lists source × target pairs", async () => {
    const engine = await deepl({ url: api.url, apiKey: "k", ...fast }).load();
    api.script("/v2/translate", { status: 503 }, { status: 502 });
    expect(await engine.translate(["a b"], { from: "en", to: "es" })).toEqual([fakeTranslate("a b", "ES")]);
    expect(api.to("/v2/translate")).toHaveLength(3);

    api.received.length = 0;
    api.script("/v2/translate", { status: 456, body: { message: "Quota exceeded" } });
    const error = await engine.translate(["a b"], { from: "en", to: "es" }).catch((e: unknown) => e);
    expect((error as TranslationEngineError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/HTTP 456 .*quota exceeded/);
    expect(api.to("/v2/translate")).toHaveLength(1);
    expect(await engine.languages()).toEqual([
      { from: "en", to: "es" },
      { from: "es", to: "en-US" },
    ]);
  });

  it("gives up after its retries with a retryable error, and refuses an empty translation", async () => {
    const engine = await deepl({ url: api.url, apiKey: "k", retries: 1, ...fast }).load();
    api.script("/v2/translate", { status: 500 }, { status: 500 });
    const error = await engine.translate(["a b"], { from: "en", to: "es" }).catch((e: unknown) => e);
    expect((error as TranslationEngineError).retryable).toBe(true);
    expect(api.to("/v2/translate")).toHaveLength(2);

    api.script("/v2/translate", { status: 200, body: { translations: [{ text: "" }] } });
    await expect(engine.translate(["a b"], { from: "en", to: "es" })).rejects.toThrow(
      /answered an empty text/,
    );
  });

  it("needs an API key", async () => {
    const saved = [process.env.DEEPL_API_KEY, process.env.DEEPL_AUTH_KEY];
    delete process.env.DEEPL_API_KEY;
    delete process.env.DEEPL_AUTH_KEY;
    try {
      await expect(deepl().load()).rejects.toThrow(/no API key. Set DEEPL_API_KEY or DEEPL_AUTH_KEY/);
    } finally {
      if (saved[0] !== undefined) process.env.DEEPL_API_KEY = saved[0];
      if (saved[1] !== undefined) process.env.DEEPL_AUTH_KEY = saved[1];
    }
  });
});

describe("openAiChat()", () => {
  const base = () => ({ baseUrl: `${api.url}/v1`, apiKey: "sk-test", model: "tiny-model", ...fast });

  it("sends batches as JSON with response_format json_object and reads choices[0].message.content", async () => {
    const engine = await openAiChat(base()).load();
    const texts = ["one two", "three four", "five"];
    expect(await engine.translate(texts, { from: "en", to: "es" })).toEqual(
      texts.map((text) => fakeTranslate(text, "Spanish")),
    );
    const [request] = api.to("/v1/chat/completions");
    expect(request?.headers.authorization).toBe("Bearer sk-test");
    expect(request?.body).toMatchObject({
      model: "tiny-model",
      temperature: 0,
      response_format: { type: "json_object" },
    });
    expect(JSON.parse(request?.body.messages[1].content)).toEqual({ texts });
    expect(await engine.languages()).toEqual([{ from: "*", to: "*" }]);
  });

  it("falls back to one text per request when a batch answer has the wrong count", async () => {
    const engine = await openAiChat(base()).load();
    api.script("/v1/chat/completions", {
      status: 200,
      body: { choices: [{ message: { content: '{"translations":["only one"]}' }, finish_reason: "stop" }] },
    });
    const texts = ["one two", "three four"];
    expect(await engine.translate(texts, { from: "en", to: "es" })).toEqual(
      texts.map((text) => fakeTranslate(text, "Spanish")),
    );
    const requests = api.to("/v1/chat/completions");
    expect(requests).toHaveLength(3);
    expect(requests[1]?.body.messages[1].content).toBe("one two");
    expect(requests[1]?.body.response_format).toBeUndefined();
  });

  it("retries a request over timeoutMs, then fails as retryable; never accepts empty content", async () => {
    const engine = await openAiChat({ ...base(), timeoutMs: 200, retries: 1 }).load();
    api.script("/v1/chat/completions", { status: 200, delayMs: 600 }, { status: 200, delayMs: 600 });
    const error = await engine.translate(["x"], { from: "en", to: "es" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranslationEngineError);
    expect((error as Error).message).toMatch(/no answer from .* within 200 ms/);
    expect((error as TranslationEngineError).retryable).toBe(true);

    api.script("/v1/chat/completions", {
      status: 200,
      body: { choices: [{ message: { content: "  " }, finish_reason: "stop" }] },
    });
    await expect(engine.translate(["x"], { from: "en", to: "es" })).rejects.toThrow(/answered an empty text/);
  });

  it("requires a key for api.openai.com only", async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      await expect(openAiChat({ baseUrl: "https://api.openai.com/v1" }).load()).rejects.toThrow(
        /OPENAI_API_KEY/,
      );
      const engine = await openAiChat({ baseUrl: `${api.url}/v1`, model: "m" }).load();
      await engine.translate(["x"], { from: "en", to: "es" });
      expect(api.to("/v1/chat/completions").at(-1)?.headers.authorization).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
    expect(openAiChat({ model: "a" }).cacheId).not.toBe(openAiChat({ model: "b" }).cacheId);
  });
});

describe("quotas and the platform", () => {
  it("waits for the RateLimiter: never more than `points` requests per window", async () => {
    const memory = createMemoryRateLimiter();
    const granted: number[] = [];
    // The memory limiter, recording when it grants: the quota is about grants, not network timing.
    const limiter: RateLimiter = {
      name: memory.name,
      async consume(key, limit, cost) {
        const answer = await memory.consume(key, limit, cost);
        if (answer.allowed) granted.push(Date.now());
        return answer;
      },
      peek: (key, limit) => memory.peek(key, limit),
      reset: (key) => memory.reset(key),
      close: () => memory.close(),
    };
    const engine = await libreTranslate({
      url: api.url,
      batchSize: 1,
      rateLimit: { points: 2, durationMs: 400, limiter },
    }).load();
    const texts = ["a", "b", "c", "d", "e", "f"];
    expect(await engine.translate(texts, { from: "en", to: "es" })).toHaveLength(6);
    expect(api.to("/translate")).toHaveLength(6);
    expect(granted).toHaveLength(6);
    // A window opens at its first grant and holds 2: grants 3 and 5 each wait for the next window.
    // (Times are taken just after the limiter answered, so a grant can look a few ms late.)
    expect((granted[2] as number) - (granted[0] as number)).toBeGreaterThanOrEqual(390);
    expect((granted[4] as number) - (granted[2] as number)).toBeGreaterThanOrEqual(390);
    await limiter.close();
  });

  it("runs translateBatch on an HTTP engine through the platform, counting characters on ctx.rateLimiter", async () => {
    const conveyor = await platform({
      engines: [
        deepl({
          url: api.url,
          apiKey: "k",
          rateLimit: { points: 10_000, durationMs: 60_000, per: "character", key: "deepl-plan" },
        }),
      ],
    });
    const worker = conveyor.worker();
    try {
      const texts = ["good morning", "good night"];
      const job = await conveyor.enqueue<TranslateBatchResult>("translation.translateBatch", {
        texts,
        from: "en",
        to: "es",
      });
      const result = await job.result({ timeoutMs: 10_000 });
      expect(result.texts).toEqual(texts.map((text) => fakeTranslate(text, "ES")));
      expect(result.engine).toBe("deepl");
      const state = await conveyor.rateLimiter.peek("deepl-plan", { points: 10_000, durationMs: 60_000 });
      expect(state.consumed).toBe("good morning".length + "good night".length);
    } finally {
      await worker.close();
      await conveyor.close();
    }
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(retryAfterMs("3")).toBe(3_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });
});
