import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isConveyorError, type JobEvent, JobFailedError, ValidationError } from "@conveyor/core";
import { afterEach, describe, expect, it } from "vitest";
import type { ConvertResult } from "../src/index.js";
import { platform, recordingLogger, sql, tempRoot } from "./support/platform.js";

const BIG_ID = 9_007_199_254_740_993n; // 2^53 + 1: not a safe JS number
const CSV = [
  "id,name,price,qty",
  `${BIG_ID},"Widget, large",19.99,3`,
  `2,"Quote ""q""",0.5,10`,
  "3,plain,100.0,0",
  "",
].join("\n");

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function open(options: Parameters<typeof platform>[0] = {}, logger?: Parameters<typeof platform>[1]) {
  const conveyor = await platform(options, logger);
  const worker = conveyor.worker({ concurrency: 2 });
  closers.push(async () => {
    await worker.close({ drain: false });
    await conveyor.close();
  });
  return { conveyor, worker };
}

async function convert(
  conveyor: Awaited<ReturnType<typeof open>>["conveyor"],
  input: Record<string, unknown>,
) {
  const job = await conveyor.enqueue<ConvertResult>("dataConversion.convert", input);
  return job.result({ timeoutMs: 15_000 });
}

describe("dataConversion.convert on the memory adapter", () => {
  it("round-trips CSV → Parquet → CSV with every row and value (64-bit ids included)", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "in.csv"), CSV);
    const { conveyor } = await open({ roots: [root] });

    const parquet = await convert(conveyor, {
      input: "in.csv",
      output: "mid.parquet",
      options: { compression: "zstd" },
    });
    expect(parquet).toMatchObject({ rows: 3, from: "csv", to: "parquet", output: join(root, "mid.parquet") });
    expect(parquet.bytes).toBeGreaterThan(0);
    expect(parquet.durationMs).toBeGreaterThanOrEqual(0);
    const rows = await sql(`SELECT * FROM read_parquet('${join(root, "mid.parquet")}') ORDER BY qty`);
    expect(rows[0]).toEqual({ id: 3n, name: "plain", price: 100, qty: 0n });
    expect(rows.map((row) => row.id)).toContain(BIG_ID);

    const back = await convert(conveyor, { input: "mid.parquet", output: "out.csv" });
    expect(back.rows).toBe(3);
    expect(readFileSync(join(root, "out.csv"), "utf8")).toBe(CSV);
  });

  it("converts NDJSON ↔ JSON arrays, keeping order and nested values", async () => {
    const root = tempRoot();
    const records = [
      { id: 1, tags: ["a", "b"], meta: { ok: true } },
      { id: 2, tags: [], meta: { ok: false } },
      { id: 3, tags: ["c"], meta: { ok: true } },
    ];
    writeFileSync(join(root, "in.ndjson"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const { conveyor } = await open({ roots: [root] });

    expect((await convert(conveyor, { input: "in.ndjson", output: "out.json" })).rows).toBe(3);
    expect(JSON.parse(readFileSync(join(root, "out.json"), "utf8"))).toEqual(records);

    expect((await convert(conveyor, { input: "out.json", output: "again.jsonl" })).rows).toBe(3);
    const lines = readFileSync(join(root, "again.jsonl"), "utf8").trim().split("\n");
    expect(lines.map((line) => JSON.parse(line))).toEqual(records);
  });

  it("reads and writes TSV, selects and casts columns", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "in.tsv"), "id\tname\tscore\n1\tann\t7\n2\tbob\t9\n");
    const { conveyor } = await open({ roots: [root] });

    const result = await convert(conveyor, {
      input: "in.tsv",
      output: "out.csv",
      options: { columns: ["name", "score"], types: { score: "DOUBLE" } },
    });
    expect(result.rows).toBe(2);
    expect(readFileSync(join(root, "out.csv"), "utf8")).toBe("name,score\nann,7.0\nbob,9.0\n");

    await convert(conveyor, { input: "out.csv", output: "back.tsv" });
    expect(readFileSync(join(root, "back.tsv"), "utf8")).toBe("name\tscore\nann\t7.0\nbob\t9.0\n");
  });

  it("refuses paths outside the roots with a typed error, and the worker keeps going", async () => {
    const root = tempRoot();
    const outside = tempRoot();
    writeFileSync(join(outside, "secret.csv"), "a\n1\n");
    writeFileSync(join(root, "ok.csv"), "a\n1\n");
    symlinkSync(join(outside, "secret.csv"), join(root, "link.csv"));
    const { conveyor } = await open({ roots: [root] });

    for (const input of [join(outside, "secret.csv"), "../x/secret.csv", "link.csv"]) {
      const error = await convert(conveyor, { input, output: "out.parquet" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobFailedError);
      const jobError = (error as JobFailedError).jobError as {
        name: string;
        code?: string;
        retryable?: boolean;
      };
      expect(jobError).toMatchObject({
        name: "PathNotAllowedError",
        code: "PATH_NOT_ALLOWED",
        retryable: false,
      });
    }
    const escaped = await convert(conveyor, { input: "ok.csv", output: join(outside, "out.parquet") }).catch(
      (e: unknown) => e,
    );
    expect((escaped as JobFailedError).jobError.name).toBe("PathNotAllowedError");
    expect(existsSync(join(outside, "out.parquet"))).toBe(false);

    expect((await convert(conveyor, { input: "ok.csv", output: "ok.parquet" })).rows).toBe(1);
  });

  it("rejects an unknown format before enqueueing, with a ValidationError naming the field", async () => {
    const root = tempRoot();
    const { conveyor } = await open({ roots: [root] });
    const error = await conveyor
      .enqueue("dataConversion.convert", { input: "data.xlsx", output: "out.parquet" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]).toMatchObject({ path: "input" });
    const bad = await conveyor
      .enqueue("dataConversion.convert", { input: "a.csv", output: "b.txt", to: "xml" })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
  });

  it("fails a bad CSV row with its line number, or skips it and reports the rejects", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "bad.csv"), "a,b\n1,2\n3,4\n5,x\n7,8\n");
    const { conveyor } = await open({ roots: [root] });
    const error = await convert(conveyor, {
      input: "bad.csv",
      output: "bad.parquet",
      options: { types: { b: "BIGINT" } },
    }).catch((e: unknown) => e);
    expect((error as JobFailedError).jobError).toMatchObject({ name: "ConversionError", code: "CONVERSION" });
    expect(readdirSync(root)).toEqual(["bad.csv"]);

    writeFileSync(join(root, "rows.csv"), "a,b\n1,2\n3,4\n5,6,7\n8,9\n");
    const skipped = await convert(conveyor, {
      input: "rows.csv",
      output: "rows.parquet",
      options: { onError: "skip" },
    });
    expect(skipped.rows).toBe(3);
    expect(skipped.rejected?.count).toBe(1);
    expect(skipped.rejected?.sample[0]?.line).toBe(4);
  });

  it("reports progress in rows and loads DuckDB once for many jobs, never in a process that only enqueues", async () => {
    const root = tempRoot();
    await sql(
      `COPY (SELECT range AS id, range * 2 AS x, 'name-' || range AS name FROM range(300000)) TO '${join(root, "in.csv")}' (HEADER)`,
    );
    const { logger, lines } = recordingLogger();
    const producer = await platform({ roots: [root] }, logger);
    await producer.enqueue("dataConversion.convert", { input: "in.csv", output: "never.parquet" });
    await producer.close();
    expect(lines.filter((line) => line === "duckdb loaded")).toEqual([]);

    const { conveyor } = await open({ roots: [root], progressIntervalMs: 20 }, logger);
    const job = await conveyor.enqueue<ConvertResult>("dataConversion.convert", {
      input: "in.csv",
      output: "out.parquet",
    });
    const events: JobEvent[] = [];
    for await (const event of job.events()) events.push(event);
    const progress = events.filter((event) => event.type === "progress").map((event) => event.progress);
    expect(progress.at(-1)).toEqual({ current: 300_000, total: 300_000, message: "converted" });
    expect(progress[0]?.total).toBeGreaterThan(250_000);

    const more = await Promise.all(
      [1, 2, 3].map((n) => convert(conveyor, { input: "in.csv", output: `out-${n}.ndjson` })),
    );
    expect(more.map((result) => result.rows)).toEqual([300_000, 300_000, 300_000]);
    expect(lines.filter((line) => line === "duckdb loaded")).toHaveLength(1);
  });

  it("runs concurrent jobs of one worker one after another on its DuckDB, so they never share its memory limit", async () => {
    const root = tempRoot();
    // NDJSON reading takes 32 MiB buffers: two such jobs at once under the default 128MB limit
    // fail with DuckDB's Out of Memory error when they run together.
    await sql(
      `COPY (SELECT range AS id, 'customer-' || range AS name, range / 7.0 AS price, range % 9 AS qty, 'ES' AS country FROM range(400000)) TO '${join(root, "in.ndjson")}' (FORMAT json)`,
    );
    const { conveyor } = await open({ roots: [root] });
    const results = await Promise.all(
      [1, 2, 3].map((n) => convert(conveyor, { input: "in.ndjson", output: `out-${n}.parquet` })),
    );
    expect(results.map((result) => result.rows)).toEqual([400_000, 400_000, 400_000]);
  }, 60_000);

  it("cancels a conversion mid-way: the job ends cancelled and leaves no partial file", async () => {
    const root = tempRoot();
    await sql(
      `COPY (SELECT range AS id, range * 7919 % 100000 AS qty, range / 3.0 AS price, 'item-' || (range % 1000) AS name FROM range(2000000)) TO '${join(root, "big.csv")}' (HEADER)`,
    );
    const { conveyor } = await open({ roots: [root], progressIntervalMs: 20 });
    const job = await conveyor.enqueue<ConvertResult>("dataConversion.convert", {
      input: "big.csv",
      output: "big.parquet",
    });
    for await (const event of job.events()) {
      if (event.type === "progress" && (event.progress?.current ?? 0) > 0) {
        await job.cancel();
        break;
      }
    }
    const error = await job.result({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(isConveyorError(error) && error.code).toBe("JOB_CANCELLED");
    expect(await job.status()).toBe("cancelled");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(readdirSync(root)).toEqual(["big.csv"]);
  }, 60_000);
});

describe("paths", () => {
  it("needs an existing output folder inside a root", async () => {
    const root = tempRoot();
    mkdirSync(join(root, "sub"));
    writeFileSync(join(root, "a.csv"), "a\n1\n");
    const { conveyor } = await open({ roots: [root] });
    expect((await convert(conveyor, { input: "a.csv", output: "sub/a.parquet" })).rows).toBe(1);
    const error = await convert(conveyor, { input: "a.csv", output: "missing/a.parquet" }).catch(
      (e: unknown) => e,
    );
    expect((error as JobFailedError).jobError.message).toMatch(/output folder does not exist/);
  });
});
