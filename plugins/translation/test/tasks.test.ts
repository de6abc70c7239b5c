import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Conveyor, type JobEvent, JobFailedError, ValidationError } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue } from "@conveyor/memory";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ApertiumEngine,
  apertium,
  type TranslateBatchResult,
  type TranslateFileResult,
  type TranslateResult,
} from "../src/index.js";
import { platform, recordingLogger, tempRoot } from "./support/platform.js";
import { sentences } from "./support/sentences.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

// The engine's own answers, to compare the tasks' output with (Apertium is deterministic).
let reference: ApertiumEngine;
beforeAll(async () => {
  reference = await apertium().load();
});
afterAll(async () => {
  await reference.close();
});
const expected = (texts: string[]) => reference.translate(texts, { from: "en", to: "es" });

async function open(...args: Parameters<typeof platform>): Promise<Conveyor> {
  const conveyor = await platform(...args);
  const worker = conveyor.worker({ concurrency: 4 });
  closers.push(async () => {
    await worker.close({ drain: false });
    await conveyor.close();
  });
  return conveyor;
}

async function run<T>(conveyor: Conveyor, task: string, input: Record<string, unknown>): Promise<T> {
  const job = await conveyor.enqueue<T>(task, input);
  return job.result({ timeoutMs: 20_000 });
}

async function failure(conveyor: Conveyor, task: string, input: Record<string, unknown>) {
  const error = await run(conveyor, task, input).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(JobFailedError);
  return (error as JobFailedError).jobError;
}

describe("translation.translate and translation.translateBatch on the memory adapter", () => {
  it("translates one text, then answers it from the cache", async () => {
    const conveyor = await open({});
    const input = { text: "The cat is on the table.", from: "en", to: "es" };
    expect(await run<TranslateResult>(conveyor, "translation.translate", input)).toEqual({
      text: "El gato es en la mesa.",
      from: "en",
      to: "es",
      engine: "apertium",
      cached: false,
    });
    expect(await run<TranslateResult>(conveyor, "translation.translate", input)).toMatchObject({
      text: "El gato es en la mesa.",
      cached: true,
    });
  });

  it("translates a batch in order with progress per chunk; the second run comes from the cache", async () => {
    const conveyor = await open({});
    const texts = sentences(60);
    const job = await conveyor.enqueue<TranslateBatchResult>("translation.translateBatch", {
      texts,
      from: "en",
      to: "es",
      chunkSize: 10,
    });
    const events: JobEvent[] = [];
    for await (const event of job.events()) events.push(event);
    const first = await job.result();
    expect(first.texts).toEqual(await expected(texts));
    expect(first.cache).toEqual({ hits: 0, misses: 60 });
    const progress = events.filter((event) => event.type === "progress").map((event) => event.progress);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ current: 60, total: 60 });
    for (const step of progress) expect((step?.current ?? 0) % 10).toBe(0);

    const second = await run<TranslateBatchResult>(conveyor, "translation.translateBatch", {
      texts,
      from: "en",
      to: "es",
    });
    expect(second.texts).toEqual(first.texts);
    expect(second.cache).toEqual({ hits: 60, misses: 0 });
  });

  it("translates each unique normalised text once and keeps every text's own outer whitespace", async () => {
    const conveyor = await open({});
    const result = await run<TranslateBatchResult>(conveyor, "translation.translateBatch", {
      texts: ["Good morning.", "  Good   morning.\n", "", "   ", "Good morning."],
      from: "en",
      to: "es",
    });
    const [good] = await expected(["Good morning."]);
    expect(result.texts).toEqual([good, `  ${good}\n`, "", "   ", good]);
    expect(result.cache).toEqual({ hits: 0, misses: 1 });
  });

  it("validates the input before enqueueing: language codes and engine names", async () => {
    const conveyor = await open({});
    for (const input of [
      { text: "x", from: "english!", to: "es" },
      { text: "x", from: "en", to: "es", engine: "google" },
    ]) {
      await expect(conveyor.enqueue("translation.translate", input)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it("loads the engine once for many jobs, and never in a process that only enqueues", async () => {
    const queue = createMemoryQueue();
    const cache = createMemoryCache();
    const producerLog = recordingLogger();
    const producer = await platform({}, producerLog.logger, queue, cache);
    const texts = sentences(40);
    const jobs = await Promise.all(
      [0, 10, 20, 30].map((start) =>
        producer.enqueue<TranslateBatchResult>("translation.translateBatch", {
          texts: texts.slice(start, start + 10),
          from: "en",
          to: "es",
        }),
      ),
    );
    const single = await producer.enqueue<TranslateResult>("translation.translate", {
      text: "The bird sees the river.",
      from: "en",
      to: "es",
    });
    expect(producerLog.lines.filter((line) => /engine loaded|pipeline started/.test(line))).toEqual([]);

    const workerLog = recordingLogger();
    await open({}, workerLog.logger, queue, cache);
    const results = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 20_000 })));
    expect(results.flatMap((result) => result.texts)).toEqual(await expected(texts));
    expect((await single.result({ timeoutMs: 20_000 })).text).toBe(
      (await expected(["The bird sees the river."]))[0],
    );
    expect(workerLog.lines.filter((line) => line === "translation engine loaded")).toHaveLength(1);
    expect(workerLog.lines.filter((line) => line === "apertium pipeline started eng-spa")).toHaveLength(1);
    expect(producerLog.lines.filter((line) => /engine loaded|pipeline started/.test(line))).toEqual([]);
    await producer.close();
  });
});

describe("translation.translateFile on the memory adapter", () => {
  it("translates a CSV column in place and keeps every other byte: ids, quotes, CRLF, blank lines", async () => {
    const root = tempRoot();
    const [cat, morning, multi] = await expected([
      "The cat is on the table.",
      "Good morning, my friend.",
      "The dog eats an apple.\nThe cat sleeps.",
    ]);
    const rows = [
      ["id,text,note", "id,text,note"],
      [
        `9007199254740993,"The cat is on the table.","keep ""this"""`,
        `9007199254740993,"${cat}","keep ""this"""`,
      ],
      [`2,"Good morning, my friend.",x`, `2,"${morning}",x`],
      ["", ""],
      ["3,,empty", "3,,empty"],
      [`4,"The dog eats an apple.\nThe cat sleeps.",0042`, `4,"${multi}",0042`],
    ];
    writeFileSync(join(root, "in.csv"), `${rows.map(([row]) => row).join("\r\n")}\r\n`);
    const conveyor = await open({ roots: [root] });
    const result = await run<TranslateFileResult>(conveyor, "translation.translateFile", {
      input: "in.csv",
      output: "out.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    expect(readFileSync(join(root, "out.csv"), "utf8")).toBe(
      `${rows.map(([, row]) => row).join("\r\n")}\r\n`,
    );
    expect(result).toMatchObject({
      rows: 4,
      cells: 4,
      format: "csv",
      output: join(root, "out.csv"),
      engine: "apertium",
    });
    expect(result.cache).toEqual({ hits: 0, misses: 3 });
    expect(readdirSync(root).sort()).toEqual(["in.csv", "out.csv"]);
  });

  it("writes translations next to the originals with a suffix; TSV, and positions without a header", async () => {
    const root = tempRoot();
    const [cat, dog] = await expected(["The cat sleeps.", "The dog eats."]);
    writeFileSync(join(root, "in.tsv"), "id\ttext\n1\tThe cat sleeps.\n2\tThe dog eats.\n");
    const conveyor = await open({ roots: [root] });
    await run(conveyor, "translation.translateFile", {
      input: "in.tsv",
      output: "out.tsv",
      columns: ["text"],
      from: "en",
      to: "es",
      suffix: "_es",
    });
    expect(readFileSync(join(root, "out.tsv"), "utf8")).toBe(
      `id\ttext\ttext_es\n1\tThe cat sleeps.\t${cat}\n2\tThe dog eats.\t${dog}\n`,
    );

    writeFileSync(join(root, "plain.csv"), "1,The cat sleeps.\n2,The dog eats.");
    await run(conveyor, "translation.translateFile", {
      input: "plain.csv",
      output: "plain-out.csv",
      columns: ["2"],
      header: false,
      from: "en",
      to: "es",
    });
    expect(readFileSync(join(root, "plain-out.csv"), "utf8")).toBe(`1,${cat}\n2,${dog}`);
  });

  it("translates JSON array and NDJSON fields by path, keeping key order, big integers and other fields", async () => {
    const root = tempRoot();
    const [cat, dog, bird] = await expected(["The cat sleeps.", "The dog eats.", "The bird sings."]);
    const json = `[\n  {"id": 9007199254740993, "review": {"text": "The cat sleeps.", "stars": 4.50}, "tags": ["The dog eats.", 7]},\n  {"id": 2, "review": {"text": null}, "tags": []}\n]\n`;
    writeFileSync(join(root, "in.json"), json);
    const conveyor = await open({ roots: [root] });
    const result = await run<TranslateFileResult>(conveyor, "translation.translateFile", {
      input: "in.json",
      output: "out.json",
      columns: ["review.text", "tags.*"],
      from: "en",
      to: "es",
    });
    expect(result).toMatchObject({ rows: 2, cells: 2, format: "json" });
    expect(readFileSync(join(root, "out.json"), "utf8")).toBe(
      json.replace('"The cat sleeps."', JSON.stringify(cat)).replace('"The dog eats."', JSON.stringify(dog)),
    );

    const ndjson = `{"id":1,"text":"The bird sings.","n":12345678901234567890}\n\n{"id":2,"text":"The cat sleeps."}\n`;
    writeFileSync(join(root, "in.ndjson"), ndjson);
    await run(conveyor, "translation.translateFile", {
      input: "in.ndjson",
      output: "out.jsonl",
      columns: ["text"],
      from: "en",
      to: "es",
      suffix: "_es",
    });
    expect(readFileSync(join(root, "out.jsonl"), "utf8")).toBe(
      `{"id":1,"text":"The bird sings.","text_es":${JSON.stringify(bird)},"n":12345678901234567890}\n\n{"id":2,"text":"The cat sleeps.","text_es":${JSON.stringify(cat)}}\n`,
    );
  });

  it("streams a file in steps with progress in rows, and serves repeated texts from the cache", async () => {
    const root = tempRoot();
    const texts = sentences(50);
    const lines = ["id,text"];
    for (let i = 0; i < 5_000; i++) lines.push(`${i},${texts[i % texts.length]}`);
    writeFileSync(join(root, "big.csv"), `${lines.join("\n")}\n`);
    const conveyor = await open({ roots: [root], chunkSize: 500 });
    const job = await conveyor.enqueue<TranslateFileResult>("translation.translateFile", {
      input: "big.csv",
      output: "big-es.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    const events: JobEvent[] = [];
    for await (const event of job.events()) events.push(event);
    const result = await job.result();
    expect(result.rows).toBe(5_000);
    expect(result.cache.misses).toBe(50);
    expect(result.cache.hits).toBe(9 * 50);
    const progress = events.filter((event) => event.type === "progress").map((event) => event.progress);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toMatchObject({ current: 5_000, total: 5_000 });
    const translated = await expected(texts);
    const out = readFileSync(join(root, "big-es.csv"), "utf8").trimEnd().split("\n");
    expect(out).toHaveLength(5_001);
    out.slice(1).forEach((line, i) => {
      const text = translated[i % 50] as string;
      expect(line).toBe(`${i},${/[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text}`);
    });
  });

  it("cancels a file mid-way: the job ends cancelled, leaves no partial file, and keeps what it translated", async () => {
    const root = tempRoot();
    const texts = sentences(3_000);
    writeFileSync(join(root, "long.csv"), `id,text\n${texts.map((text, i) => `${i},${text}`).join("\n")}\n`);
    const conveyor = await open({ roots: [root], chunkSize: 100 });
    const job = await conveyor.enqueue<TranslateFileResult>("translation.translateFile", {
      input: "long.csv",
      output: "long-es.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    for await (const event of job.events()) {
      if (event.type === "progress" && (event.progress?.current ?? 0) >= 100) {
        await job.cancel();
        break;
      }
    }
    await expect(job.result({ timeoutMs: 20_000 })).rejects.toThrow(/cancel/i);
    expect(await job.status()).toBe("cancelled");
    // The job is cancelled at once; the task stops at its next await and then removes its temporary file.
    for (let waited = 0; readdirSync(root).length > 1 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(readdirSync(root)).toEqual(["long.csv"]);
    // The chunks done before the cancel are in the cache: a batch of them never reaches the engine.
    const again = await run<TranslateBatchResult>(conveyor, "translation.translateBatch", {
      texts: texts.slice(0, 100),
      from: "en",
      to: "es",
    });
    expect(again.cache).toEqual({ hits: 100, misses: 0 });
  });

  it("fails with a typed error naming the line or the column, and leaves no partial file", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "bad.ndjson"), `{"text":"The cat sleeps."}\n{"text": "The dog eats.",}\n`);
    writeFileSync(join(root, "quote.csv"), `id,text\n1,"The cat sleeps.\n`);
    writeFileSync(join(root, "ok.csv"), "id,text\n1,The cat sleeps.\n");
    const conveyor = await open({ roots: [root] });
    const bad = await failure(conveyor, "translation.translateFile", {
      input: "bad.ndjson",
      output: "bad-out.ndjson",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    expect(bad.name).toBe("TranslationFileError");
    expect(bad.message).toMatch(/at line 2: expected a key/);
    const quote = await failure(conveyor, "translation.translateFile", {
      input: "quote.csv",
      output: "quote-out.csv",
      columns: ["text"],
      from: "en",
      to: "es",
    });
    expect(quote.message).toMatch(/at line 2: a quoted field is never closed/);
    const column = await failure(conveyor, "translation.translateFile", {
      input: "ok.csv",
      output: "ok-out.csv",
      columns: ["body"],
      from: "en",
      to: "es",
    });
    expect(column.message).toMatch(/no column "body" in the header \(columns: id, text\)/);
    expect(readdirSync(root).sort()).toEqual(["bad.ndjson", "ok.csv", "quote.csv"]);
  });

  it("confines paths to the roots: outside, .., symlinks out and the input as output are refused", async () => {
    const root = tempRoot();
    const outside = tempRoot();
    writeFileSync(join(outside, "secret.csv"), "text\nThe cat sleeps.\n");
    writeFileSync(join(root, "ok.csv"), "text\nThe cat sleeps.\n");
    symlinkSync(join(outside, "secret.csv"), join(root, "link.csv"));
    const conveyor = await open({ roots: [root] });
    const base = { columns: ["text"], from: "en", to: "es" };
    for (const [input, output] of [
      [join(outside, "secret.csv"), "a.csv"],
      [`../${outside.split("/").pop()}/secret.csv`, "b.csv"],
      ["link.csv", "c.csv"],
      ["ok.csv", join(outside, "out.csv")],
      ["ok.csv", "ok.csv"],
    ] as const) {
      const error = await failure(conveyor, "translation.translateFile", { ...base, input, output });
      expect(error.name).toBe("PathNotAllowedError");
      expect(error.message).toMatch(/^\[conveyor:translation\]/);
    }
    expect(existsSync(join(outside, "out.csv"))).toBe(false);
    await expect(
      conveyor.enqueue("translation.translateFile", { ...base, input: "notes.txt", output: "x.txt" }),
    ).rejects.toThrow(/cannot infer the format/);
  });
});
