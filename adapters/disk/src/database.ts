import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { BackendUnavailableError, ConfigError } from "@conveyor/core";
import Database from "better-sqlite3";

/** An open better-sqlite3 connection. */
export type Db = Database.Database;

/**
 * How hard a commit is pushed to the disk. `"normal"` (SQLite `synchronous=NORMAL` in WAL mode):
 * a process that crashes or is killed loses nothing it committed; a power cut or OS crash may lose
 * the last commits before the WAL was synced. `"full"` (`synchronous=FULL`): every commit is
 * fsynced before it returns and survives a power cut, at the price of one fsync per transaction.
 *
 * @example
 * ```ts
 * import { createDiskQueue, type Durability } from "@conveyor/disk";
 * const durability: Durability = process.env.NODE_ENV === "production" ? "full" : "normal";
 * const queue = createDiskQueue({ path: "./.conveyor", durability });
 * await queue.close();
 * ```
 */
export type Durability = "normal" | "full";

/** One step of a schema: applied once, in order, inside the transaction that bumps `user_version`. */
export interface Migration {
  /** The `user_version` the database has after this step. */
  readonly version: number;
  /** The SQL of the step (several statements). */
  readonly sql: string;
}

/** What {@link openDatabase} needs. */
export interface OpenOptions {
  /** The database file; its folder is created when missing. */
  file: string;
  durability: Durability;
  busyTimeoutMs: number;
  migrations: readonly Migration[];
  /** What the file holds, for messages ("queue", "cache"). */
  what: string;
}

const BUSY_CODES = new Set(["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_TIMEOUT"]);

/** Whether an error is SQLite saying another connection holds the lock for too long. */
export function isBusy(error: unknown): boolean {
  return BUSY_CODES.has(String((error as { code?: unknown })?.code ?? ""));
}

/**
 * Turns SQLite's own errors (locked, I/O, disk full, corrupt) into a `BackendUnavailableError`
 * naming the file; anything else (a Conveyor error, a bug) goes through unchanged.
 */
export function backendError(error: unknown, file: string): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return error;
  const reason = isBusy(error)
    ? `the database stayed locked by another process past the busy timeout (${code})`
    : `${(error as Error).message} (${code})`;
  return new BackendUnavailableError(`the disk store ${file}`, reason, { scope: "disk", cause: error });
}

/**
 * Applies the migrations the database lacks, each once, under the write lock: several processes
 * opening one new file at once apply them exactly once between them. Returns the version reached.
 * A file written by a newer version of this package is refused rather than misread.
 */
export function migrate(db: Db, migrations: readonly Migration[], what: string, file: string): number {
  const latest = migrations.at(-1)?.version ?? 0;
  const tooNew = (version: number) =>
    new ConfigError(
      `the ${what} file ${file} has schema version ${version}, newer than this @conveyor/disk understands (${latest}). Upgrade @conveyor/disk in this process, or use another folder.`,
      { scope: "disk" },
    );
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current === latest) return latest;
  if (current > latest) throw tooNew(current);
  db.transaction(() => {
    const found = db.pragma("user_version", { simple: true }) as number;
    if (found > latest) throw tooNew(found);
    for (const migration of migrations) {
      if (migration.version > found) db.exec(migration.sql);
    }
    db.pragma(`user_version = ${latest}`);
  }).immediate();
  return latest;
}

/**
 * Opens (creating when needed) a database file in WAL mode, so readers never block the writer and
 * several processes share it: `busy_timeout` makes a writer wait for the lock instead of failing,
 * and `synchronous` is NORMAL (no fsync per commit; a power cut may lose the last commits, a
 * crashed process loses none) or FULL (fsync per commit).
 */
export function openDatabase(options: OpenOptions): Db {
  const { file, durability, busyTimeoutMs, migrations, what } = options;
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (cause) {
    throw new ConfigError(
      `cannot create the folder of the ${what} file ${file}: ${(cause as Error).message}. Check the path and its permissions.`,
      { scope: "disk", cause },
    );
  }
  let db: Db;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (cause) {
    throw backendError(cause, file);
  }
  try {
    // Switching a new file to WAL needs a moment of exclusive access; another process opening the
    // same new file at once can make it fail with SQLITE_BUSY despite the busy timeout.
    const deadline = Date.now() + busyTimeoutMs;
    let mode: unknown;
    for (;;) {
      try {
        mode = db.pragma("journal_mode = WAL", { simple: true });
        break;
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
    if (mode !== "wal") {
      throw new ConfigError(
        `SQLite refused WAL mode for ${file} (it answered "${String(mode)}"); the folder is probably on a network file system. Put the disk store on a local disk.`,
        { scope: "disk" },
      );
    }
    db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
    migrate(db, migrations, what, file);
    return db;
  } catch (error) {
    db.close();
    throw backendError(error, file);
  }
}
