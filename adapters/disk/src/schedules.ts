import type {
  LeaderInfo,
  LeaderLease,
  ScheduleAdvance,
  ScheduleRecord,
  ScheduleStore,
  ScheduleUpsertResult,
} from "@conveyor/core";
import type { Statement } from "better-sqlite3";
import { backendError, type Db } from "./database.js";

/** A schedule row as SQLite returns it. */
interface ScheduleRow {
  name: string;
  fingerprint: string;
  definition: string;
  next_run_at: number;
  last_run_at: number | null;
  last_job_id: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

interface LeaderRow {
  owner: string | null;
  token: number;
  expires_at: number;
}

const COLUMNS =
  "name, fingerprint, definition, next_run_at, last_run_at, last_job_id, last_error, created_at, updated_at";

function toRecord(row: ScheduleRow): ScheduleRecord {
  return {
    ...(JSON.parse(row.definition) as Omit<ScheduleRecord, "fingerprint" | "nextRunAt">),
    fingerprint: row.fingerprint,
    nextRunAt: row.next_run_at,
    ...(row.last_run_at !== null ? { lastRunAt: row.last_run_at } : {}),
    ...(row.last_job_id !== null ? { lastJobId: row.last_job_id } : {}),
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface AdvanceParams {
  name: string;
  next: number;
  expected: number;
  owner: string;
  token: number;
  now: number;
}

/** The prepared statements of one connection. */
class Statements {
  readonly get: Statement<[string], ScheduleRow>;
  readonly list: Statement<[], ScheduleRow>;
  readonly due: Statement<[number, number], ScheduleRow>;
  readonly insert: Statement<[string, string, string, number, number, number]>;
  readonly replace: Statement<[string, string, number, number, string]>;
  readonly remove: Statement<[string]>;
  readonly leader: Statement<[], LeaderRow>;
  readonly grant: Statement<[string, number, number]>;
  readonly extend: Statement<[number, string, number, number]>;
  readonly release: Statement<[string, number]>;
  readonly advance: Statement<
    [AdvanceParams & { lastRunAt: number; lastJobId: string | null; lastError: string | null }]
  >;
  readonly skip: Statement<[AdvanceParams]>;

  constructor(db: Db) {
    this.get = db.prepare(`SELECT ${COLUMNS} FROM schedules WHERE name = ?`);
    this.list = db.prepare(`SELECT ${COLUMNS} FROM schedules ORDER BY name`);
    this.due = db.prepare(
      `SELECT ${COLUMNS} FROM schedules WHERE next_run_at <= ? ORDER BY next_run_at, name LIMIT ?`,
    );
    this.insert = db.prepare(
      "INSERT INTO schedules (name, fingerprint, definition, next_run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.replace = db.prepare(
      "UPDATE schedules SET fingerprint = ?, definition = ?, next_run_at = ?, updated_at = ?, last_error = NULL WHERE name = ?",
    );
    this.remove = db.prepare("DELETE FROM schedules WHERE name = ?");
    this.leader = db.prepare("SELECT owner, token, expires_at FROM schedule_leader WHERE id = 1");
    this.grant = db.prepare(
      "UPDATE schedule_leader SET owner = ?, token = token + 1, expires_at = ? WHERE id = 1 AND expires_at <= ?",
    );
    this.extend = db.prepare(
      "UPDATE schedule_leader SET expires_at = ? WHERE id = 1 AND owner = ? AND token = ? AND expires_at > ?",
    );
    this.release = db.prepare(
      "UPDATE schedule_leader SET expires_at = 0 WHERE id = 1 AND owner = ? AND token = ?",
    );
    // The lease is checked inside the same statement, so an advance is atomic on its own: the
    // row changes only while the caller's token is the live one.
    const live =
      "EXISTS (SELECT 1 FROM schedule_leader WHERE id = 1 AND owner = @owner AND token = @token AND expires_at > @now)";
    this.advance = db.prepare(
      `UPDATE schedules SET next_run_at = @next, last_run_at = @lastRunAt, last_job_id = @lastJobId, last_error = @lastError WHERE name = @name AND next_run_at = @expected AND ${live}`,
    );
    this.skip = db.prepare(
      `UPDATE schedules SET next_run_at = @next WHERE name = @name AND next_run_at = @expected AND ${live}`,
    );
  }
}

/**
 * The schedule store of a disk queue: tables `schedules` and `schedule_leader` in the queue's
 * SQLite file, so every process that opens the folder shares the schedules and one lease.
 * Lease times come from the clock of the machine, which every sharing process reads alike.
 */
export function createDiskScheduleStore(file: string, database: () => Db): ScheduleStore {
  const prepared = new WeakMap<Db, Statements>();
  const statements = (db: Db): Statements => {
    let found = prepared.get(db);
    if (found === undefined) {
      found = new Statements(db);
      prepared.set(db, found);
    }
    return found;
  };
  const read = <T>(fn: (s: Statements) => T): T => {
    const db = database();
    try {
      return fn(statements(db));
    } catch (error) {
      throw backendError(error, file);
    }
  };
  const write = <T>(fn: (s: Statements) => T): T => {
    const db = database();
    try {
      const s = statements(db);
      return db.transaction(() => fn(s)).immediate();
    } catch (error) {
      throw backendError(error, file);
    }
  };
  const liveLeader = (s: Statements, now: number): LeaderInfo | undefined => {
    const row = s.leader.get();
    if (row === undefined || row.owner === null || row.expires_at <= now) return undefined;
    return { owner: row.owner, token: row.token, expiresAt: row.expires_at };
  };

  return {
    async upsert({ schedule, fingerprint, nextRunAt, now }): Promise<ScheduleUpsertResult> {
      const definition = JSON.stringify(schedule);
      return write((s) => {
        const existing = s.get.get(schedule.name);
        if (existing?.fingerprint === fingerprint)
          return { schedule: toRecord(existing), status: "unchanged" };
        if (existing === undefined) s.insert.run(schedule.name, fingerprint, definition, nextRunAt, now, now);
        else s.replace.run(fingerprint, definition, nextRunAt, now, schedule.name);
        return { schedule: toRecord(s.get.get(schedule.name)!), status: existing ? "updated" : "created" };
      });
    },
    async get(name) {
      const row = read((s) => s.get.get(name));
      return row === undefined ? undefined : toRecord(row);
    },
    async list() {
      return read((s) => s.list.all()).map(toRecord);
    },
    async due(now, limit) {
      return read((s) => s.due.all(now, limit)).map(toRecord);
    },
    async remove(name) {
      return write((s) => s.remove.run(name).changes === 1);
    },
    async acquireLease(owner, ttlMs) {
      // Followers ask every poll: a read first spares the write lock while someone else leads.
      const held = read((s) => liveLeader(s, Date.now()));
      if (held !== undefined && held.owner !== owner) return undefined;
      return write((s): LeaderLease | undefined => {
        const now = Date.now();
        const current = liveLeader(s, now);
        if (current !== undefined) {
          if (current.owner !== owner) return undefined;
          s.extend.run(now + ttlMs, owner, current.token, now);
          return { owner, token: current.token };
        }
        s.grant.run(owner, now + ttlMs, now);
        return { owner, token: s.leader.get()!.token };
      });
    },
    async renewLease(lease, ttlMs) {
      return write((s) => {
        const now = Date.now();
        return s.extend.run(now + ttlMs, lease.owner, lease.token, now).changes === 1;
      });
    },
    async releaseLease(lease) {
      write((s) => s.release.run(lease.owner, lease.token));
    },
    async leader() {
      return read((s) => liveLeader(s, Date.now()));
    },
    async advance(name, step: ScheduleAdvance) {
      const { lease } = step;
      return write((s) => {
        const params: AdvanceParams = {
          name,
          next: step.nextRunAt,
          expected: step.expectedNextRunAt,
          owner: lease.owner,
          token: lease.token,
          now: Date.now(),
        };
        if (step.lastRunAt === undefined) return s.skip.run(params).changes === 1;
        const last = {
          lastRunAt: step.lastRunAt,
          lastJobId: step.lastJobId ?? null,
          lastError: step.lastError ?? null,
        };
        return s.advance.run({ ...params, ...last }).changes === 1;
      });
    },
  };
}
