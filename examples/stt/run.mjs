#!/usr/bin/env node
// The speech-to-text example: speaks two sentences with espeak-ng (or takes your audio file),
// transcribes it with stt.transcribe on the embedded default (memory://, a worker in this
// process) twice — constrained to a phrase list, then open vocabulary — and prints SRT.
//   node examples/stt/run.mjs [audio file inside examples/stt]
// Needs: apt-get install python3-pocketsphinx pocketsphinx-en-us sox espeak-ng
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createConveyor, isConveyorError, loadConfig } from "conveyor";

const here = dirname(fileURLToPath(import.meta.url));
const SENTENCES = ["open the door and turn on the light", "we will meet at the station before noon"];

/** Speaks the sentences, with a pause between them, into a WAV file. */
function speak() {
  const out = join(here, "out");
  mkdirSync(out, { recursive: true });
  const files = SENTENCES.map((sentence, i) => {
    const file = join(out, `sentence-${i}.wav`);
    execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", file, sentence]);
    return file;
  });
  const gap = join(out, "gap.wav");
  execFileSync("sox", ["-n", "-r", "22050", "-c", "1", "-b", "16", gap, "trim", "0", "0.8"]);
  const audio = join(out, "speech.wav");
  execFileSync("sox", [...files.flatMap((file, i) => (i === 0 ? [file] : [gap, file])), audio]);
  return audio;
}

/**
 * Enqueues one transcription, shows its progress in seconds of audio and returns its result.
 * @param {import("conveyor").Conveyor} conveyor
 * @param {Record<string, unknown>} input
 * @returns {Promise<import("@conveyor/plugin-stt").TranscribeResult>}
 */
async function transcribe(conveyor, input) {
  const job = await conveyor.enqueue("stt.transcribe", input);
  for await (const event of job.events()) {
    if (event.type === "progress" && event.progress?.total) {
      const { current, total } = event.progress;
      process.stderr.write(
        `  ${(current / 1000).toFixed(1)} s of ${(total / 1000).toFixed(1)} s transcribed\n`,
      );
    }
  }
  return /** @type {import("@conveyor/plugin-stt").TranscribeResult} */ (await job.result());
}

async function main() {
  const audio = process.argv[2] ? resolve(process.argv[2]) : speak();
  // env: false keeps the example on the embedded default even when CONVEYOR_URL is set.
  const config = await loadConfig({ cwd: here });
  const conveyor = await createConveyor({ ...config, url: "memory://", env: false, logger: false });
  // Long audio goes to stt.transcribeChunk child jobs that any worker of this platform can take.
  try {
    const worker = conveyor.worker();
    if (!process.argv[2]) {
      console.log("With a grammar of the two sentences:");
      const exact = await transcribe(conveyor, { audio, phrases: SENTENCES, format: "srt" });
      console.log(exact.formatted);
    }
    console.log("Open vocabulary (the full language model):");
    const open = await transcribe(conveyor, { audio, format: "srt" });
    console.log(open.formatted);
    console.log(
      `${(open.durationMs / 1000).toFixed(1)} s of audio, ${open.segments.length} segment(s), ${open.chunks} chunk(s)`,
    );
    await worker.close();
  } finally {
    await conveyor.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(isConveyorError(error) ? error.message : error);
  process.exitCode = 1;
}
