import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConveyor, type TaskContext } from "conveyor";
import { describe, expect, it } from "vitest";
import { files, wordCount } from "../../../examples/word-count/src/word-count.js";
import { sampleFolder } from "./support/sample-folder.js";

function recordingContext(signal: AbortSignal = new AbortController().signal) {
  const progress: [number, number | undefined, string | undefined][] = [];
  const ctx = {
    jobId: "test",
    queue: "default",
    attempt: 1,
    maxAttempts: 1,
    signal,
    progress: async (current: number, total?: number, message?: string) => {
      progress.push([current, total, message]);
    },
    resource: async () => new Set(["const"]),
  } as unknown as TaskContext;
  return { ctx, progress };
}

describe("files.wordCount", () => {
  it("counts lines, words and bytes of text files, skipping binaries and skipped folders", async () => {
    const dir = sampleFolder();
    const { ctx, progress } = recordingContext();
    const result = await wordCount.run({ dir }, ctx);
    expect(result).toMatchObject({ dir, files: 3, lines: 4, words: 12, bytes: 24 + 13 + 24, skipped: 1 });
    expect(result.topFiles.map((file) => file.path)).toEqual(["a.txt", "c.ts", "sub/b.md"]);
    expect(result.topFiles[2]).toEqual({ path: "sub/b.md", lines: 1, words: 3, bytes: 13 });
    expect(result.topWords.map((entry) => entry.word)).toEqual([
      "bar",
      "baz",
      "conveyor",
      "foo",
      "hello",
      "one",
      "three",
      "two",
      "value",
      "world",
    ]);
    expect(progress).toEqual([
      [0, 4, "a.txt"],
      [1, 4, "c.ts"],
      [2, 4, "image.bin"],
      [3, 4, "sub/b.md"],
      [4, 4, "done"],
    ]);
  });

  it("keeps only the given extensions", async () => {
    const { ctx } = recordingContext();
    const result = await wordCount.run({ dir: sampleFolder(), extensions: ["md", ".TS"] }, ctx);
    expect(result).toMatchObject({ files: 2, words: 7, skipped: 0 });
  });

  it("stops when ctx.signal aborts", async () => {
    const stop = new AbortController();
    stop.abort(new Error("cancelled by the test"));
    const { ctx } = recordingContext(stop.signal);
    await expect(wordCount.run({ dir: sampleFolder() }, ctx)).rejects.toThrow("cancelled by the test");
  });

  it("runs as a plugin on a platform, loading the stop words once, and fails a missing folder at once", async () => {
    const conveyor = await createConveyor({ plugins: [files], logger: false, env: false });
    try {
      const worker = conveyor.worker({ concurrency: 2 });
      const [first, second] = await Promise.all([
        conveyor.enqueue(wordCount, { dir: sampleFolder() }),
        conveyor.enqueue(wordCount, { dir: sampleFolder() }),
      ]);
      const results = await Promise.all([
        first!.result({ timeoutMs: 5_000 }),
        second!.result({ timeoutMs: 5_000 }),
      ]);
      // "const" and "this" are stop words from stop-words.txt.
      for (const result of results) expect(result.topWords.map((entry) => entry.word)).not.toContain("const");

      const missing = await conveyor.enqueue(
        wordCount,
        { dir: join(tmpdir(), "conveyor-no-such-folder") },
        { retries: 3 },
      );
      await expect(missing.result({ timeoutMs: 5_000 })).rejects.toThrow("is not a folder");
      expect((await missing.get()).attempt).toBe(1);
      await worker.close();
    } finally {
      await conveyor.close();
    }
  });

  it("rejects invalid input before it is enqueued", async () => {
    const conveyor = await createConveyor({ plugins: [files], logger: false, env: false });
    try {
      await expect(
        conveyor.enqueue("files.wordCount", { dir: "", extensions: ["*.ts"] }),
      ).rejects.toMatchObject({
        code: "VALIDATION",
        issues: [expect.objectContaining({ path: "dir" }), expect.objectContaining({ path: "extensions.0" })],
      });
    } finally {
      await conveyor.close();
    }
  });
});
