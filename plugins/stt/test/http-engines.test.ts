import { execFileSync } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { JobFailedError } from "@conveyor/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  googleSpeech,
  openAiTranscription,
  type SttEngineFactory,
  type TranscribeResult,
} from "../src/index.js";
import { platform, SOX_PRESENT, tempRoot } from "./support/speech.js";

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

/** A local HTTP server answering with `handle`; records every request. */
async function serve(handle: (seen: Seen, response: ServerResponse, all: Seen[]) => void | Promise<void>) {
  const requests: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const seen = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(seen);
      void handle(seen, response, requests);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const json = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
};

/** Parses a multipart/form-data body the way a server framework would. */
const formOf = (seen: Seen) =>
  new Response(seen.body, { headers: { "content-type": String(seen.headers["content-type"]) } }).formData();

/** `seconds` of a 440 Hz tone, then silence, then a tone again: two "utterances" with a pause. */
function toneFile(root: string, name: string, seconds: number): string {
  const path = join(root, name);
  execFileSync("sox", [
    "-n",
    "-r",
    "44100",
    "-c",
    "2",
    path,
    "synth",
    String(seconds / 2),
    "sine",
    "440",
    "pad",
    "0",
    "1.5",
    ":",
    "synth",
    String(seconds / 2),
    "sine",
    "660",
  ]);
  return path;
}

async function run(engine: SttEngineFactory, input: Record<string, unknown>, root: string) {
  const { conveyor } = await platform({ roots: [root], engine });
  const worker = conveyor.worker({ concurrency: 2 });
  closers.push(async () => {
    await worker.close({ drain: false });
    await conveyor.close();
  });
  const job = await conveyor.enqueue<TranscribeResult>("stt.transcribe", input);
  return job.result({ timeoutMs: 30_000 });
}

describe.skipIf(!SOX_PRESENT)("openAiTranscription against a local OpenAI-compatible server", () => {
  it("uploads 16 kHz mono WAV chunks as multipart verbose_json requests and stitches the segments", async () => {
    const root = tempRoot();
    toneFile(root, "tones.flac", 8);
    const { base, requests } = await serve(async (seen, response) => {
      const form = await formOf(seen);
      const file = form.get("file") as File;
      const wav = Buffer.from(await file.arrayBuffer());
      const seconds = (wav.length - 44) / 2 / wav.readUInt32LE(24);
      json(response, 200, {
        task: "transcribe",
        language: "english",
        duration: seconds,
        text: `tone of ${seconds.toFixed(1)} seconds`,
        segments: [
          {
            id: 0,
            seek: 0,
            start: 0.25,
            end: seconds - 0.25,
            text: ` tone of ${seconds.toFixed(1)} seconds`,
            avg_logprob: -0.2,
            no_speech_prob: 0.01,
          },
        ],
      });
    });
    const result = await run(
      openAiTranscription({ baseUrl: `${base}/v1`, apiKey: "sk-test", model: "whisper-1" }),
      { audio: "tones.flac", maxChunkMs: 6_000, language: "en-US", phrases: ["tone", "seconds"] },
      root,
    );
    expect(requests.length).toBe(result.chunks);
    expect(result.chunks).toBe(2);
    const first = requests[0]!;
    expect(first).toMatchObject({ method: "POST", path: "/v1/audio/transcriptions" });
    expect(first.headers.authorization).toBe("Bearer sk-test");
    const form = await formOf(first);
    expect({
      model: form.get("model"),
      response_format: form.get("response_format"),
      granularity: form.get("timestamp_granularities[]"),
      language: form.get("language"),
      prompt: form.get("prompt"),
    }).toEqual({
      model: "whisper-1",
      response_format: "verbose_json",
      granularity: "segment",
      language: "en",
      prompt: "tone. seconds",
    });
    const wav = Buffer.from(await (form.get("file") as File).arrayBuffer());
    expect(wav.toString("ascii", 0, 4)).toBe("RIFF");
    expect({
      channels: wav.readUInt16LE(22),
      rate: wav.readUInt32LE(24),
      bits: wav.readUInt16LE(34),
    }).toEqual({
      channels: 1,
      rate: 16_000,
      bits: 16,
    });

    expect(result.segments).toHaveLength(2);
    const [a, b] = result.segments;
    expect(a!.startMs).toBe(250);
    expect(b!.startMs).toBeGreaterThan(a!.endMs);
    expect(b!.endMs).toBeLessThanOrEqual(result.durationMs);
    expect(a!.confidence).toBeCloseTo(Math.exp(-0.2), 3);
    expect(result.text).toBe(result.segments.map((s) => s.text).join(" "));
    expect(result.durationMs).toBeGreaterThan(9_000);
    expect(result.language).toBe("en-US");
  });

  it("retries a 429 after its Retry-After, and fails a 401 at once with a typed, non-retryable error", async () => {
    const root = tempRoot();
    toneFile(root, "short.wav", 2);
    const { base, requests } = await serve((_seen, response, all) => {
      if (all.length === 1)
        json(response, 429, { error: { message: "Rate limit reached" } }, { "retry-after": "0" });
      else json(response, 200, { text: "ok", language: "english", duration: 3.5, segments: [] });
    });
    const result = await run(
      openAiTranscription({ baseUrl: `${base}/v1`, apiKey: "k" }),
      { audio: "short.wav" },
      root,
    );
    expect(requests).toHaveLength(2);
    expect(result).toMatchObject({ segments: [{ startMs: 0, text: "ok" }], language: "english" });

    const denied = await serve((_seen, response) =>
      json(response, 401, { error: { message: "Incorrect API key provided" } }),
    );
    const error = await run(
      openAiTranscription({ baseUrl: `${denied.base}/v1`, apiKey: "bad" }),
      { audio: "short.wav" },
      root,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).jobError).toMatchObject({
      name: "SttEngineError",
      code: "STT_ENGINE",
      retryable: false,
    });
    expect((error as JobFailedError).jobError.message).toMatch(
      /HTTP 401 .*Incorrect API key provided\. Check the API key/,
    );
    expect(denied.requests).toHaveLength(1);
  });
});

describe.skipIf(!SOX_PRESENT)("googleSpeech against a local Speech-to-Text v1 server", () => {
  const results = (seconds: number) => ({
    results: [
      {
        alternatives: [
          {
            transcript: "first tone",
            confidence: 0.91,
            words: [
              { startTime: "0.200s", endTime: "0.700s", word: "first" },
              { startTime: "0.700s", endTime: "1.100s", word: "tone" },
            ],
          },
        ],
        resultEndTime: "1.500s",
        languageCode: "en-us",
      },
      {
        alternatives: [{ transcript: "second tone", confidence: 0.8 }],
        resultEndTime: `${seconds.toFixed(3)}s`,
        languageCode: "en-us",
      },
    ],
  });

  it("calls speech:recognize with LINEAR16 at 16 kHz, word offsets and phrase hints", async () => {
    const root = tempRoot();
    toneFile(root, "tones.ogg", 4);
    const { base, requests } = await serve((seen, response) => {
      const body = JSON.parse(seen.body.toString("utf8"));
      const seconds = Buffer.from(body.audio.content, "base64").length / 2 / body.config.sampleRateHertz;
      json(response, 200, results(seconds));
    });
    const result = await run(
      googleSpeech({ baseUrl: `${base}/v1`, apiKey: "g-key", model: "latest_long" }),
      { audio: "tones.ogg", phrases: ["first tone", "second tone"] },
      root,
    );
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: "/v1/speech:recognize?key=g-key" });
    const body = JSON.parse(requests[0]!.body.toString("utf8"));
    expect(body.config).toEqual({
      encoding: "LINEAR16",
      sampleRateHertz: 16_000,
      audioChannelCount: 1,
      languageCode: "en-US",
      enableWordTimeOffsets: true,
      enableAutomaticPunctuation: true,
      model: "latest_long",
      speechContexts: [{ phrases: ["first tone", "second tone"] }],
    });
    expect(result.segments).toEqual([
      { startMs: 200, endMs: 1_100, text: "first tone", confidence: 0.91 },
      { startMs: 1_500, endMs: result.durationMs, text: "second tone", confidence: 0.8 },
    ]);
    expect(result.text).toBe("first tone second tone");
  });

  it("runs speech:longrunningrecognize and polls the operation until it is done; reports a failed operation", async () => {
    const root = tempRoot();
    toneFile(root, "tones.wav", 4);
    let polls = 0;
    const { base, requests } = await serve((seen, response) => {
      if (seen.path.startsWith("/v1/speech:longrunningrecognize"))
        return json(response, 200, { name: "4242" });
      if (seen.path.startsWith("/v1/operations/4242")) {
        polls++;
        if (polls < 3)
          return json(response, 200, { name: "4242", metadata: { progressPercent: polls * 30 } });
        return json(response, 200, {
          name: "4242",
          done: true,
          response: {
            "@type": "type.googleapis.com/google.cloud.speech.v1.LongRunningRecognizeResponse",
            ...results(5.5),
          },
        });
      }
      json(response, 404, { error: { code: 404, message: "not found" } });
    });
    const result = await run(
      googleSpeech({
        baseUrl: `${base}/v1`,
        accessToken: "ya29.token",
        mode: "longRunning",
        pollIntervalMs: 10,
      }),
      { audio: "tones.wav" },
      root,
    );
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /v1/speech:longrunningrecognize",
      "GET /v1/operations/4242",
      "GET /v1/operations/4242",
      "GET /v1/operations/4242",
    ]);
    expect(requests[0]!.headers.authorization).toBe("Bearer ya29.token");
    expect(result.segments.map((s) => s.text)).toEqual(["first tone", "second tone"]);
    expect(result.language).toBe("en-US");

    const failing = await serve((seen, response) =>
      seen.method === "POST"
        ? json(response, 200, { name: "7" })
        : json(response, 200, { name: "7", done: true, error: { code: 3, message: "Invalid audio" } }),
    );
    const error = await run(
      googleSpeech({ baseUrl: `${failing.base}/v1`, apiKey: "k", mode: "longRunning", pollIntervalMs: 10 }),
      { audio: "tones.wav" },
      root,
    ).catch((e: unknown) => e);
    expect((error as JobFailedError).jobError).toMatchObject({ name: "SttEngineError", retryable: false });
    expect((error as JobFailedError).jobError.message).toContain("operation 7 failed: Invalid audio");
  });
});
