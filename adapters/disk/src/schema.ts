import type { Migration } from "./database.js";

/**
 * The queue file's schema. A job is one row: the fields the store searches by are columns with
 * partial indexes (a ready index holds only waiting jobs, so claiming costs the same for ten jobs
 * or a million), JSON fields are text. No index holds `state` for every job: each index a state
 * change touches costs every job a write, so counting by state reads the queue's rows instead. `owner`, `lease` and `lease_until` belong to the claim of an
 * active job; `cancel_requested` marks an active job cancelled from any process. Events are
 * numbered by their rowid; the prune never deletes the newest, so numbers are never reused.
 */
export const QUEUE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        queue TEXT NOT NULL,
        task TEXT NOT NULL,
        input TEXT,
        state TEXT NOT NULL,
        priority REAL NOT NULL,
        attempt INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        backoff TEXT,
        timeout_ms REAL,
        created_at INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        progress TEXT,
        result TEXT,
        error TEXT,
        expires_at INTEGER,
        worker_id TEXT,
        meta TEXT,
        owner TEXT,
        lease TEXT,
        lease_until INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX jobs_id ON jobs (id);
      CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, created_at, seq) WHERE state = 'waiting';
      CREATE INDEX jobs_timed ON jobs (run_at) WHERE state IN ('delayed', 'retrying');
      CREATE INDEX jobs_active ON jobs (owner) WHERE state = 'active';
      CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX jobs_listing ON jobs (queue, created_at);
      CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        queue TEXT NOT NULL,
        job_id TEXT NOT NULL,
        body TEXT NOT NULL
      );
    `,
  },
  {
    // Schedules and the one scheduler lease of the folder. The lease row always exists, so taking
    // it is an UPDATE guarded by its expiry, and `token` only ever grows (the fencing token).
    version: 2,
    sql: `
      CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        definition TEXT NOT NULL,
        next_run_at INTEGER NOT NULL,
        last_run_at INTEGER,
        last_job_id TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX schedules_due ON schedules (next_run_at);
      CREATE TABLE schedule_leader (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owner TEXT,
        token INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      INSERT INTO schedule_leader (id, owner, token, expires_at) VALUES (1, NULL, 0, 0);
    `,
  },
];

/**
 * The cache file's schema. Triggers keep `totals` (entries and bytes of the whole file) exact
 * under every writer, so the size limits cost one row read instead of a scan.
 */
export const CACHE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE entries (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        expires_at INTEGER,
        accessed_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX entries_key ON entries (namespace, key);
      CREATE INDEX entries_lru ON entries (accessed_at);
      CREATE INDEX entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE totals (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        entries INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      );
      INSERT INTO totals (id, entries, bytes) VALUES (1, 0, 0);
      CREATE TRIGGER entries_added AFTER INSERT ON entries BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.bytes WHERE id = 1;
      END;
      CREATE TRIGGER entries_removed AFTER DELETE ON entries BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.bytes WHERE id = 1;
      END;
      CREATE TRIGGER entries_resized AFTER UPDATE OF bytes ON entries BEGIN
        UPDATE totals SET bytes = bytes - OLD.bytes + NEW.bytes WHERE id = 1;
      END;
    `,
  },
];
