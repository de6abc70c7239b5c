import { join } from "node:path";
import { waitFor } from "@conveyor/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../src/database.js";
import { createDiskCache, createDiskQueue } from "../src/index.js";
import { CACHE_MIGRATIONS, QUEUE_MIGRATIONS } from "../src/schema.js";
import { newJob, tempFolder } from "./helpers.js";

const names = (db: Database.Database, type: string) =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type = ? ORDER BY name").pluck().all(type) as string[]
  ).filter((name) => !name.startsWith("sqlite_"));

describe("schema", () => {
  it("a queue creates its file on first use, in WAL mode, with every table and index", async () => {
    const folder = tempFolder();
    const queue = createDiskQueue({ path: join(folder, "nested", "store") });
    await queue.counts("default");
    const db = new Database(join(folder, "nested", "store", "queue.sqlite"), { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("user_version", { simple: true })).toBe(QUEUE_MIGRATIONS.at(-1)?.version);
      expect(names(db, "table")).toEqual(["events", "jobs", "queues", "schedule_leader", "schedules"]);
      expect(names(db, "index")).toEqual([
        "jobs_active",
        "jobs_expiry",
        "jobs_id",
        "jobs_listing",
        "jobs_ready",
        "jobs_timed",
        "schedules_due",
      ]);
    } finally {
      db.close();
      await queue.close();
    }
  });

  it("a cache creates its own file with the totals kept by triggers", async () => {
    const folder = tempFolder();
    const cache = createDiskCache({ path: folder });
    await cache.set("k", "v");
    const db = new Database(join(folder, "cache.sqlite"), { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(names(db, "table")).toEqual(["entries", "totals"]);
      expect(names(db, "trigger")).toEqual(["entries_added", "entries_removed", "entries_resized"]);
      expect(db.prepare("SELECT entries FROM totals").pluck().get()).toBe(1);
    } finally {
      db.close();
      await cache.close();
    }
  });

  it("an adapter that is never used creates no file", async () => {
    const folder = tempFolder();
    const queue = createDiskQueue({ path: join(folder, "unused") });
    await queue.close();
    const { existsSync } = await import("node:fs");
    expect(existsSync(join(folder, "unused"))).toBe(false);
  });

  it("durability sets synchronous: NORMAL by default, FULL when asked", () => {
    const folder = tempFolder();
    const open = (file: string, durability: "normal" | "full") =>
      openDatabase({
        file: join(folder, file),
        durability,
        busyTimeoutMs: 1_000,
        migrations: QUEUE_MIGRATIONS,
        what: "queue",
      });
    const normal = open("normal.sqlite", "normal");
    const full = open("full.sqlite", "full");
    try {
      expect(normal.pragma("synchronous", { simple: true })).toBe(1);
      expect(full.pragma("synchronous", { simple: true })).toBe(2);
    } finally {
      normal.close();
      full.close();
    }
  });
});

describe("migrations", () => {
  const file = () => join(tempFolder(), "m.sqlite");

  it("are idempotent: opening a file again, or from a second connection, applies nothing twice", async () => {
    const path = file();
    const options = { file: path, durability: "normal" as const, busyTimeoutMs: 1_000, what: "queue" };
    const first = openDatabase({ ...options, migrations: QUEUE_MIGRATIONS });
    const second = openDatabase({ ...options, migrations: QUEUE_MIGRATIONS });
    const latest = QUEUE_MIGRATIONS.at(-1)?.version;
    expect(migrate(first, QUEUE_MIGRATIONS, "queue", path)).toBe(latest);
    expect(migrate(second, QUEUE_MIGRATIONS, "queue", path)).toBe(latest);
    expect(names(second, "table")).toEqual(["events", "jobs", "queues", "schedule_leader", "schedules"]);
    first.close();
    second.close();
    const cache = openDatabase({ ...options, file: `${path}.cache`, migrations: CACHE_MIGRATIONS });
    expect(migrate(cache, CACHE_MIGRATIONS, "cache", path)).toBe(1);
    cache.close();
  });

  it("a later migration is applied once to an older file, keeping its data", () => {
    const path = file();
    const options = { file: path, durability: "normal" as const, busyTimeoutMs: 1_000, what: "test" };
    const v1 = [{ version: 1, sql: "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);" }];
    const v2 = [
      ...v1,
      { version: 2, sql: "ALTER TABLE t ADD COLUMN b TEXT; INSERT INTO t VALUES (2, 'x');" },
    ];
    openDatabase({ ...options, migrations: v1 }).close();
    const db = openDatabase({ ...options, migrations: v2 });
    expect(migrate(db, v2, "test", path)).toBe(2);
    expect(db.prepare("SELECT a, b FROM t ORDER BY a").all()).toEqual([
      { a: 1, b: null },
      { a: 2, b: "x" },
    ]);
    db.close();
  });

  it("a version-1 queue file gains the schedule tables and keeps its jobs", async () => {
    const folder = tempFolder();
    const path = join(folder, "queue.sqlite");
    const options = { file: path, durability: "normal" as const, busyTimeoutMs: 1_000, what: "queue" };
    const v1 = openDatabase({ ...options, migrations: QUEUE_MIGRATIONS.slice(0, 1) });
    v1.exec("INSERT INTO queues (name, paused) VALUES ('old', 1)");
    v1.close();
    const queue = createDiskQueue({ path: folder });
    try {
      expect(await queue.queues()).toEqual([{ name: "old", paused: true }]);
      expect(await queue.schedules!.list()).toEqual([]);
      expect(await queue.schedules!.acquireLease("a", 1_000)).toEqual({ owner: "a", token: 1 });
    } finally {
      await queue.close();
    }
  });

  it("a file written by a newer version is refused with a ConfigError", () => {
    const path = file();
    const options = { file: path, durability: "normal" as const, busyTimeoutMs: 1_000, what: "test" };
    const v2 = [
      { version: 1, sql: "CREATE TABLE t (a INTEGER);" },
      { version: 2, sql: "CREATE TABLE u (a INTEGER);" },
    ];
    openDatabase({ ...options, migrations: v2 }).close();
    expect(() => openDatabase({ ...options, migrations: v2.slice(0, 1) })).toThrow(/schema version 2, newer/);
  });

  it("a failing migration leaves the file at its old version", () => {
    const path = file();
    const options = { file: path, durability: "normal" as const, busyTimeoutMs: 1_000, what: "test" };
    const v1 = [{ version: 1, sql: "CREATE TABLE t (a INTEGER);" }];
    openDatabase({ ...options, migrations: v1 }).close();
    const broken = [...v1, { version: 2, sql: "CREATE TABLE u (a INTEGER); THIS IS NOT SQL;" }];
    expect(() => openDatabase({ ...options, migrations: broken })).toThrow();
    const db = openDatabase({ ...options, migrations: v1 });
    expect(db.pragma("user_version", { simple: true })).toBe(1);
    expect(names(db, "table")).toEqual(["t"]);
    db.close();
  });
});

describe("queue files", () => {
  it("jobs survive closing and reopening the folder: waiting, delayed, finished and paused", async () => {
    const folder = tempFolder();
    const first = createDiskQueue({ path: folder });
    const later = Date.now() + 60_000;
    await first.add([newJob({ id: "done", queue: "other" })]);
    const consumer = first.consume({ queues: ["other"], concurrency: 1, workerId: "w1" }, async () => ({
      type: "completed",
      result: { ok: true },
    }));
    await waitFor(async () => (await first.getJob("done"))?.state === "completed");
    await consumer.close();
    await first.add([
      newJob({ id: "w", input: { text: "kept" }, meta: { trace: "t" } }),
      newJob({ id: "d", runAt: later }),
    ]);
    await first.pause("default");
    await first.close();

    const second = createDiskQueue({ path: folder });
    const all = await second.listJobs();
    expect(all.map((job) => job.id).sort()).toEqual(["d", "done", "w"]);
    expect(await second.getJob("w")).toMatchObject({
      state: "waiting",
      input: { text: "kept" },
      meta: { trace: "t" },
    });
    expect(await second.getJob("done")).toMatchObject({
      state: "completed",
      result: { ok: true },
      attempt: 1,
    });
    expect(await second.getJob("d")).toMatchObject({ state: "delayed", runAt: later });
    expect(await second.queues()).toEqual([
      { name: "default", paused: true },
      { name: "other", paused: false },
    ]);
    await second.close();
  });
});
