import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, type Logger, type Plugin, type QueueAdapter } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { type SttOptions, stt } from "../../src/index.js";

/** Sentences of the synthesised test set: every word is in the CMU dictionary. */
export const SENTENCES = [
  "the quick brown fox jumps over the lazy dog",
  "please call stella and ask her to bring these things",
  "we will meet at the station before noon",
  "the weather is cold and windy today",
  "open the door and turn on the light",
] as const;

const has = (program: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** Whether sox (the audio decoder) is installed. */
export const SOX_PRESENT = has("sox");

/** Whether the real programs the tests need are installed (`.ci/run` installs them). */
export const ENGINE_PRESENT =
  has("espeak-ng") &&
  SOX_PRESENT &&
  has("/usr/bin/python3") &&
  (() => {
    try {
      execFileSync("/usr/bin/python3", ["-c", "from pocketsphinx import pocketsphinx"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

/** A fresh folder under the OS temp folder, real path. */
export const tempRoot = (): string => realpathSync(mkdtempSync(join(tmpdir(), "conveyor-stt-")));

/** Speaks `text` with espeak-ng (en-us, 150 words per minute) into a WAV file (22 050 Hz). */
export function speak(text: string, path: string): string {
  execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", path, text]);
  return path;
}

/** Joins audio files with `silenceMs` of silence between them into `path` (any sox format). */
export function join_(files: readonly string[], silenceMs: number, path: string): string {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-stt-gap-"));
  const gap = join(dir, "gap.wav");
  execFileSync("sox", [
    "-n",
    "-r",
    "22050",
    "-c",
    "1",
    "-b",
    "16",
    gap,
    "trim",
    "0",
    String(silenceMs / 1000),
  ]);
  const parts = files.flatMap((file, i) => (i === 0 ? [file] : [gap, file]));
  execFileSync("sox", [...parts, path]);
  return path;
}

/** Converts an audio file with sox (the extension picks the format). */
export function convert(from: string, to: string, extra: string[] = []): string {
  execFileSync("sox", [from, ...extra, to]);
  return to;
}

/** Debug lines the runtime and resources logged, to count model loads. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

/** The platform on the memory adapter (or the queue given) with the plugin registered. */
export async function platform(
  options: SttOptions,
  extra: { logger?: Logger | false; queue?: QueueAdapter } = {},
): Promise<{ conveyor: Conveyor; plugin: Plugin }> {
  const plugin = stt(options);
  const conveyor = await createConveyor({
    queue: extra.queue ?? createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger: extra.logger ?? false,
    plugins: [plugin],
  });
  return { conveyor, plugin };
}

/** Word error rate: word-level edit distance over the reference's length. */
export function wordErrorRate(reference: string, hypothesis: string): { errors: number; words: number } {
  const ref = reference.toLowerCase().split(/\s+/).filter(Boolean);
  const hyp = hypothesis.toLowerCase().split(/\s+/).filter(Boolean);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const current = [i];
    for (let j = 1; j <= hyp.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (ref[i - 1] === hyp[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return { errors: previous[hyp.length] as number, words: ref.length };
}

/** Debian's pocketsphinx-testdata recordings (LibriVox, read speech) with their transcripts. */
export function librivox(): { file: string; text: string }[] {
  const dir = "/usr/share/pocketsphinx/test/data/librivox";
  return readFileSync(join(dir, "transcription"), "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const match = /^<s>\s*(.*?)\s*<\/s>\s*\((.+)\)$/.exec(line.trim());
      if (!match) throw new Error(`unexpected transcription line: ${line}`);
      return { file: join(dir, `${match[2]}.wav`), text: match[1] as string };
    });
}
