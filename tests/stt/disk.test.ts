import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, type Logger } from "@conveyor/core";
import { createDiskCache, createDiskQueue } from "@conveyor/disk";
import { createMemoryRateLimiter } from "@conveyor/memory";
import { stt, type TranscribeResult } from "@conveyor/plugin-stt";
import { afterEach, describe, expect, it } from "vitest";

// The speech-to-text plugin on the disk adapter: the same store shared by a process that only
// enqueues and by two workers, each with its own resources (as separate processes would have).

const SENTENCES = [
  "the quick brown fox jumps over the lazy dog",
  "please call stella and ask her to bring these things",
  "we will meet at the station before noon",
  "the weather is cold and windy today",
  "open the door and turn on the light",
];

const present = (command: string) => {
  try {
    execFileSync("sh", ["-c", command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const ENGINE_PRESENT =
  present("command -v espeak-ng && command -v sox") &&
  present("/usr/bin/python3 -c 'from pocketsphinx import pocketsphinx'");

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

const temp = (name: string) => realpathSync(mkdtempSync(join(tmpdir(), `conveyor-stt-${name}-`)));

function recorder(): { logger: Logger; loads: () => number } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return {
    logger: { debug: push, info: push, warn: push, error: push },
    loads: () => lines.filter((line) => line === "pocketsphinx model loaded").length,
  };
}

/** One "process": a platform on the shared disk store with the stt plugin. */
async function processOn(store: string, root: string, logger: Logger): Promise<Conveyor> {
  const plugin = stt({ roots: [root] });
  const conveyor = await createConveyor({
    queue: createDiskQueue({ path: join(store, "queue") }),
    cache: createDiskCache({ path: join(store, "cache") }),
    rateLimiter: createMemoryRateLimiter(),
    env: false,
    logger,
    plugins: [plugin],
  });
  closers.push(() => conveyor.close());
  return conveyor;
}

describe.skipIf(!ENGINE_PRESENT)("stt.transcribe on the disk adapter", () => {
  it("runs long audio as chunk jobs shared by two workers; the enqueuing process never loads the model", async () => {
    const root = temp("audio");
    const store = temp("store");
    const parts = SENTENCES.map((sentence, i) => {
      const file = join(root, `s${i}.wav`);
      execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", file, sentence]);
      return file;
    });
    const gap = join(root, "gap.wav");
    execFileSync("sox", ["-n", "-r", "22050", "-c", "1", "-b", "16", gap, "trim", "0", "0.9"]);
    execFileSync("sox", [
      ...parts.flatMap((file, i) => (i === 0 ? [file] : [gap, file])),
      join(root, "talk.flac"),
    ]);

    const producerLog = recorder();
    const producer = await processOn(store, root, producerLog.logger);
    const first = recorder();
    const second = recorder();
    const workers = [
      (await processOn(store, root, first.logger)).worker({ concurrency: 2 }),
      (await processOn(store, root, second.logger)).worker({ concurrency: 2 }),
    ];
    closers.push(async () => {
      await Promise.all(workers.map((worker) => worker.close({ drain: false })));
    });

    const jobs = await Promise.all(
      [0, 1].map(() =>
        producer.enqueue<TranscribeResult>("stt.transcribe", {
          audio: "talk.flac",
          phrases: SENTENCES,
          maxChunkMs: 6_000,
          format: "srt",
        }),
      ),
    );
    const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 120_000 })));
    for (const result of results) {
      expect(result.text).toBe(SENTENCES.join(" "));
      expect(result.segments.map((segment) => segment.text)).toEqual(SENTENCES);
      expect(result.chunks).toBeGreaterThanOrEqual(3);
      expect(result.formatted).toMatch(/^1\n00:00:00,\d{3} --> /);
    }
    const chunkJobs = (await producer.listJobs({ limit: 1_000 })).filter(
      (job) => job.task === "stt.transcribeChunk",
    );
    expect(chunkJobs.length).toBe(results[0]!.chunks + results[1]!.chunks);
    // A chunk is completed by the worker that claimed it, or cancelled and done by its parent.
    expect(chunkJobs.every((job) => job.state === "completed" || job.state === "cancelled")).toBe(true);

    expect(producerLog.loads()).toBe(0);
    expect(first.loads()).toBeLessThanOrEqual(1);
    expect(second.loads()).toBeLessThanOrEqual(1);
    expect(first.loads() + second.loads()).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
