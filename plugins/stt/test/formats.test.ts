import { describe, expect, it } from "vitest";
import {
  decodeAudio,
  EngineNotInstalledError,
  formatTranscript,
  phrasesToJsgf,
  planChunks,
  type Transcript,
  wordsToSegments,
} from "../src/index.js";

const transcript: Transcript = {
  text: "hello world --> next",
  language: "en-US",
  durationMs: 3_723_500,
  segments: [
    { startMs: 150, endMs: 1_700, text: "hello world", confidence: 0.9 },
    { startMs: 3_723_000, endMs: 3_723_000, text: "--> next" },
  ],
};

describe("transcript writers", () => {
  it("writes SubRip with comma milliseconds, numbered cues and a minimum cue length", () => {
    expect(formatTranscript(transcript, "srt")).toBe(
      "1\n00:00:00,150 --> 00:00:01,700\nhello world\n\n2\n01:02:03,000 --> 01:02:03,500\n-> next\n",
    );
  });

  it("writes WebVTT with a header and dot milliseconds", () => {
    expect(formatTranscript(transcript, "vtt")).toBe(
      "WEBVTT\n\n00:00:00.150 --> 00:00:01.700\nhello world\n\n01:02:03.000 --> 01:02:03.500\n-> next\n",
    );
  });

  it("writes plain text one segment per line, and the JSON result", () => {
    expect(formatTranscript(transcript, "txt")).toBe("hello world\n--> next\n");
    expect(JSON.parse(formatTranscript(transcript, "json"))).toEqual(transcript);
    expect(formatTranscript({ ...transcript, segments: [] }, "txt")).toBe("");
  });
});

describe("chunk planning", () => {
  const levels = (spec: [number, number][]) =>
    Float32Array.from(spec.flatMap(([frames, db]) => Array(frames).fill(db)));

  it("cuts in the middle of the longest pause in the second half of each window, else the latest pause", () => {
    // 10 ms frames: 4 s speech, 0.2 s pause, 2 s speech, 0.8 s pause, 3 s speech, 0.5 s pause, 4 s speech.
    const audio = levels([
      [400, -20],
      [20, -90],
      [200, -20],
      [80, -90],
      [300, -20],
      [50, -90],
      [400, -20],
    ]);
    const spans = planChunks(audio, audio.length * 10, { maxChunkMs: 8_000 });
    // The 0.2 s pause is too short to count; the 0.8 s one is cut at 6.6 s, and the rest fits in 8 s.
    expect(spans).toEqual([
      { startMs: 0, endMs: 6_600 },
      { startMs: 6_600, endMs: 14_500 },
    ]);
    expect(planChunks(audio, audio.length * 10, { maxChunkMs: 5_000 })).toEqual([
      { startMs: 0, endMs: 5_000 },
      { startMs: 5_000, endMs: 6_600 },
      { startMs: 6_600, endMs: 10_250 },
      { startMs: 10_250, endMs: 14_500 },
    ]);
  });

  it("cuts at the limit when there is no pause, and drops chunks that are silence only", () => {
    const speech = levels([[1_000, -20]]);
    expect(planChunks(speech, 10_000, { maxChunkMs: 4_000 })).toEqual([
      { startMs: 0, endMs: 4_000 },
      { startMs: 4_000, endMs: 8_000 },
      { startMs: 8_000, endMs: 10_000 },
    ]);
    const trailing = levels([
      [300, -20],
      [900, -95],
    ]);
    expect(planChunks(trailing, 12_000, { maxChunkMs: 4_000 })).toEqual([
      { startMs: 0, endMs: 3_000 + 1_000 },
    ]);
  });
});

describe("grammar and segments", () => {
  it("turns phrases into a looping JSGF grammar of dictionary words", () => {
    const { jsgf, words } = phrasesToJsgf(["Open the door!", "open the door", "Turn on the light, please."]);
    expect(jsgf).toBe(
      "#JSGF V1.0;\ngrammar phrases;\npublic <utterance> = ( <p0> | <p1> )+;\n<p0> = open the door;\n<p1> = turn on the light please;\n",
    );
    expect(words).toEqual(["open", "the", "door", "turn", "on", "light", "please"]);
  });

  it("groups words into segments at pauses, with the mean confidence", () => {
    const segments = wordsToSegments(
      [
        { word: "hello", startMs: 0, endMs: 400, confidence: 0.8 },
        { word: "world", startMs: 450, endMs: 900, confidence: 0.6 },
        { word: "again", startMs: 1_500, endMs: 1_900 },
      ],
      { pauseMs: 400 },
    );
    expect(segments).toEqual([
      { startMs: 0, endMs: 900, text: "hello world", confidence: 0.7 },
      { startMs: 1_500, endMs: 1_900, text: "again" },
    ]);
  });
});

describe("decoders", () => {
  it("names what to install when none of the allowed decoders is on the machine", async () => {
    const error = await decodeAudio("a.wav", "b.wav", {
      sampleRate: 16_000,
      decoders: ["no-such-decoder" as "ffmpeg"],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineNotInstalledError);
    expect((error as Error).message).toContain("an audio decoder (no-such-decoder) is not installed");
  });
});
