#!/usr/bin/env node
// Measures stt.transcribe with PocketSphinx through the platform (memory://, workers in this
// process): speed in seconds of audio per second of wall time, and word error rate, on
//   1. the synthesised set: 5 sentences spoken by espeak-ng (en-us, 150 wpm), decoded with a
//      grammar of the sentences, then open vocabulary;
//   2. Debian's pocketsphinx-testdata: 5 LibriVox recordings (read speech), open vocabulary;
//   3. long audio: the synthesised set said 4 times with pauses (~80 s), split into chunks
//      (maxChunkMs 10 s) run as child jobs, with 1 and then 2 decoders/worker slots.
// Wall time counts the whole job (decoding with sox, splitting, queueing); decoder CPU is the
// PocketSphinx processes' own CPU time, read from /proc.
//   node plugins/stt/scripts/bench.mjs          (needs a build: pnpm --filter @conveyor/plugin-stt... build)
// Needs: apt-get install python3-pocketsphinx pocketsphinx-en-us pocketsphinx-testdata espeak-ng sox
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createConveyor } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { pocketsphinx, stt } from "@conveyor/plugin-stt";

const SENTENCES = [
  "the quick brown fox jumps over the lazy dog",
  "please call stella and ask her to bring these things",
  "we will meet at the station before noon",
  "the weather is cold and windy today",
  "open the door and turn on the light",
];

/**
 * CPU seconds used so far by this process's live children (the decoder processes), from /proc:
 * wall time on a shared machine says more about the neighbours than about the decoder.
 */
function decoderCpuSeconds() {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(fields[1]) === process.pid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
}

/** Word-level edit distance. */
function wordErrors(reference, hypothesis) {
  const ref = reference.toLowerCase().split(/\s+/).filter(Boolean);
  const hyp = hypothesis.toLowerCase().split(/\s+/).filter(Boolean);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const current = [i];
    for (let j = 1; j <= hyp.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return { errors: previous[hyp.length], words: ref.length };
}

const dir = mkdtempSync(join(tmpdir(), "conveyor-stt-bench-"));
const speak = (text, file) => {
  execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", file, text]);
  return file;
};
const synthesised = SENTENCES.map((text, i) => ({ text, file: speak(text, join(dir, `s${i}.wav`)) }));
const testdata = "/usr/share/pocketsphinx/test/data/librivox";
const recorded = readFileSync(join(testdata, "transcription"), "utf8")
  .trim()
  .split("\n")
  .map((line) => {
    const [, text, id] = /^<s>\s*(.*?)\s*<\/s>\s*\((.+)\)$/.exec(line.trim());
    return { text, file: join(testdata, `${id}.wav`) };
  });
const gap = join(dir, "gap.wav");
execFileSync("sox", ["-n", "-r", "22050", "-c", "1", "-b", "16", gap, "trim", "0", "0.9"]);
const longParts = Array.from({ length: 4 }, () => synthesised.map((s) => s.file)).flat();
const longFile = join(dir, "long.wav");
execFileSync("sox", [...longParts.flatMap((file, i) => (i === 0 ? [file] : [gap, file])), longFile]);
const longText = Array.from({ length: 4 }, () => SENTENCES.join(" ")).join(" ");

async function platform(decoders, concurrency) {
  const plugin = stt({ engine: pocketsphinx({ decoders }), roots: [dir, testdata], concurrency });
  const conveyor = await createConveyor({
    queue: createMemoryQueue(),
    cache: createMemoryCache(),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger: false,
    plugins: [plugin],
  });
  const worker = conveyor.worker({ concurrency });
  const close = async () => {
    await worker.close();
    await conveyor.close();
  };
  return { conveyor, close };
}

/** Runs the items one job at a time (after a warm-up job that loads the model) and measures. */
async function measure(label, conveyor, items, extra = {}) {
  let errors = 0;
  let words = 0;
  let audioMs = 0;
  const cpuBefore = decoderCpuSeconds();
  const started = performance.now();
  for (const item of items) {
    const job = await conveyor.enqueue("stt.transcribe", { audio: item.file, ...extra });
    const result = await job.result();
    const wer = wordErrors(item.text, result.text);
    errors += wer.errors;
    words += wer.words;
    audioMs += result.durationMs;
  }
  const wallS = (performance.now() - started) / 1000;
  const cpuS = decoderCpuSeconds() - cpuBefore;
  const audioS = audioMs / 1000;
  console.log(
    `${label.padEnd(58)} ${audioS.toFixed(1).padStart(5)} s audio: wall ${wallS.toFixed(1).padStart(5)} s = ${(audioS / wallS).toFixed(2).padStart(5)}× real time; decoder CPU ${cpuS.toFixed(1).padStart(5)} s = ${(audioS / cpuS).toFixed(2).padStart(5)} audio s per CPU s; WER ${((100 * errors) / words).toFixed(1).padStart(5)} % (${errors}/${words} words)`,
  );
}

console.log(
  `node ${process.version}, ${cpus().length} CPU cores (load average ${loadavg()[0].toFixed(1)}), PocketSphinx en-us (Debian), memory://`,
);
try {
  const loadStarted = performance.now();
  const one = await platform(1, 1);
  const warm = await one.conveyor.enqueue("stt.transcribe", {
    audio: synthesised[0].file,
    phrases: SENTENCES,
  });
  await warm.result();
  console.log(`first job, model load included: ${((performance.now() - loadStarted) / 1000).toFixed(2)} s`);
  await measure("synthesised, grammar of the 5 sentences", one.conveyor, synthesised, { phrases: SENTENCES });
  await measure("synthesised, open vocabulary", one.conveyor, synthesised);
  await measure("pocketsphinx-testdata (LibriVox), open vocabulary", one.conveyor, recorded);
  await measure(
    "long synthesised, grammar, 10 s chunks, 1 decoder",
    one.conveyor,
    [{ file: longFile, text: longText }],
    {
      phrases: SENTENCES,
      maxChunkMs: 10_000,
    },
  );
  await one.close();
  const two = await platform(2, 2);
  await (
    await two.conveyor.enqueue("stt.transcribe", { audio: synthesised[0].file, phrases: SENTENCES })
  ).result();
  await measure(
    "long synthesised, grammar, 10 s chunks, 2 decoders/slots",
    two.conveyor,
    [{ file: longFile, text: longText }],
    {
      phrases: SENTENCES,
      maxChunkMs: 10_000,
    },
  );
  await two.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
