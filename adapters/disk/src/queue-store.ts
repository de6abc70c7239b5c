import {
  type AddResult,
  applyOutcome,
  type CancelResult,
  cancelRecord,
  claimRecord,
  compactRecord,
  createRecord,
  decideAfterError,
  isTerminal,
  JOB_STATES,
  type JobCounts,
  type JobEvent,
  type JobQuery,
  type JobRecord,
  type JobState,
  type NewJob,
  type Outcome,
  outcomeEvent,
  type Progress,
  type PurgeOptions,
  promoteRecord,
  type QueueInfo,
  releaseRecord,
  retryRecord,
  serializeError,
  ValidationError,
} from "@conveyor/core";
import type { Statement } from "better-sqlite3";
import type { Db } from "./database.js";
import { decode, encode } from "./json.js";

/**
 * A job row as SQLite returns it in raw mode, in the order of {@link COLUMNS} (an array: building
 * an object with twenty-odd properties per row costs more than the query itself), sometimes
 * followed by `cancel_requested` and `lease`.
 */
type JobRow = [
  seq: number,
  id: string,
  queue: string,
  task: string,
  input: string | null,
  state: JobState,
  priority: number,
  attempt: number,
  maxAttempts: number,
  backoff: string | null,
  timeoutMs: number | null,
  createdAt: number,
  runAt: number,
  startedAt: number | null,
  finishedAt: number | null,
  progress: string | null,
  result: string | null,
  error: string | null,
  expiresAt: number | null,
  workerId: string | null,
  meta: string | null,
  cancelRequested?: number,
  lease?: string | null,
];

const SEQ = 0;
const STATE = 5;
const EXPIRES_AT = 18;
const CANCEL_REQUESTED = 21;

interface ClaimRow {
  seq: number;
  lease: string | null;
  cancel_requested: number;
}

const COLUMNS =
  "seq, id, queue, task, input, state, priority, attempt, max_attempts, backoff, timeout_ms, created_at, run_at, started_at, finished_at, progress, result, error, expires_at, worker_id, meta";

const NOT_EXPIRED = "(expires_at IS NULL OR expires_at > ?)";

// Limits are written into the SQL, never bound: SQLite (built with STAT4, as better-sqlite3 is)
// prepares a statement again on every run when a bound value can change its plan, as LIMIT ? does,
// which made the claim query several times slower.
/** Due delayed jobs promoted per claim. */
const PROMOTE_BATCH = 1_000;
/** Events read per query; a larger backlog is read in several queries back to back. */
export const EVENT_PAGE = 1_000;
/** Expired finished jobs deleted per sweep. */
const SWEEP_BATCH = 1_000;

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

/** The record of a row, with every field present (undefined when unset), as the core builds them. */
function toRecord(row: JobRow): JobRecord {
  return {
    id: row[1],
    queue: row[2],
    task: row[3],
    input: decode(row[4]),
    state: row[5],
    priority: row[6],
    attempt: row[7],
    maxAttempts: row[8],
    backoff: decode(row[9]),
    timeoutMs: orUndefined(row[10]),
    createdAt: row[11],
    runAt: row[12],
    startedAt: orUndefined(row[13]),
    finishedAt: orUndefined(row[14]),
    progress: decode(row[15]),
    result: decode(row[16]),
    error: decode(row[17]),
    expiresAt: orUndefined(row[18]),
    workerId: orUndefined(row[19]),
    meta: decode(row[20]),
  };
}

const expired = (row: JobRow, now: number): boolean => {
  const expiresAt = row[EXPIRES_AT];
  return expiresAt !== null && expiresAt <= now;
};

/** The core's ready order (priority, `runAt`, `createdAt`), then insertion order. */
const compareRows = (a: JobRow, b: JobRow): number =>
  b[6] - a[6] || a[12] - b[12] || a[11] - b[11] || a[SEQ] - b[SEQ];

function emptyCounts(): JobCounts {
  const counts = {} as JobCounts;
  for (const state of JOB_STATES) counts[state] = 0;
  return counts;
}

/** A job to add whose JSON fields were encoded (and checked) before the transaction. */
export interface PreparedJob {
  job: NewJob;
  input: string | null;
  backoff: string | null;
  meta: string | null;
}

/** One claim of one job: the row, the claim's unique lease token, and the record as claimed. */
export interface Claim {
  readonly seq: number;
  readonly lease: string;
  record: JobRecord;
}

/** How a consumer claims: who it is, how long a lease lasts, how lease tokens are made. */
export interface Claimant {
  readonly workerId: string;
  readonly owner: string;
  readonly leaseMs: number;
  nextLease(): string;
}

/** The outcome of one claim, to persist. */
export interface Ack {
  readonly claim: Claim;
  readonly outcome: Outcome;
}

/** What the owner of active jobs learns from the database about them. */
export interface OwnedJob {
  seq: number;
  lease: string | null;
  cancelRequested: boolean;
}

/** When the next timed thing happens: a delayed or retrying job comes due, or a lease runs out. */
export interface NextDue {
  timedAt: number | undefined;
  leaseUntil: number | undefined;
}

/**
 * The queue file's operations. Every method is synchronous and must run inside a write
 * transaction (`write`) when it changes anything, so each is atomic across processes; every change
 * of a job's state goes through the core's state machine, and its event is appended in the same
 * transaction, so events of a job are stored in the order they happened.
 */
export class QueueStore {
  private readonly run: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown };
  private readonly stmt: {
    insert: Statement;
    byId: Statement;
    bySeq: Statement;
    write: Statement;
    writeGuarded: Statement;
    progress: Statement;
    cancelRequest: Statement;
    deleteSeq: Statement;
    hasReady: Statement;
    due: Statement;
    hasDue: Statement;
    expiredLeases: Statement;
    nextTimed: Statement;
    nextLease: Statement;
    renew: Statement;
    owned: Statement;
    ensureQueue: Statement;
    setPaused: Statement;
    paused: Statement;
    queues: Statement;
    counts: Statement;
    expiredCounts: Statement;
    event: Statement;
    maxEvent: Statement;
    events: Statement;
    eventBounds: Statement;
    pruneEvents: Statement;
    hasExpired: Statement;
    sweepExpired: Statement;
    dataVersion: Statement;
  };
  private readonly readyStatements = new Map<number, Statement>();
  private readonly listStatements = new Map<string, Statement>();
  private readonly purgeStatements = new Map<string, Statement>();

  constructor(readonly db: Db) {
    this.run = db.transaction((fn: () => unknown) => fn()) as never;
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insert: p(
        `INSERT INTO jobs (id, queue, task, input, state, priority, attempt, max_attempts, backoff, timeout_ms, created_at, run_at, meta)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      byId: p(`SELECT ${COLUMNS}, cancel_requested, lease FROM jobs WHERE id = ?`).raw(),
      bySeq: p(`SELECT cancel_requested FROM jobs WHERE seq = ? AND lease = ?`),
      write: p(
        `UPDATE jobs SET state = ?, attempt = ?, run_at = ?, started_at = ?, finished_at = ?, progress = ?, result = ?,
         error = ?, expires_at = ?, worker_id = ?, owner = ?, lease = ?, lease_until = ?, cancel_requested = ? WHERE seq = ?`,
      ),
      writeGuarded: p(
        `UPDATE jobs SET state = ?, attempt = ?, run_at = ?, started_at = ?, finished_at = ?, progress = ?, result = ?,
         error = ?, expires_at = ?, worker_id = ?, owner = ?, lease = ?, lease_until = ?, cancel_requested = ?
         WHERE seq = ? AND lease = ?`,
      ),
      progress: p("UPDATE jobs SET progress = ? WHERE seq = ? AND lease = ?"),
      cancelRequest: p("UPDATE jobs SET cancel_requested = 1 WHERE seq = ?"),
      deleteSeq: p("DELETE FROM jobs WHERE seq = ?"),
      hasReady: p(
        "SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'waiting' AND queue = ? LIMIT 1",
      ).pluck(),
      due: p(
        `SELECT ${COLUMNS} FROM jobs WHERE state IN ('delayed', 'retrying') AND run_at <= ? ORDER BY run_at LIMIT ${PROMOTE_BATCH}`,
      ).raw(),
      hasDue: p("SELECT 1 FROM jobs WHERE state IN ('delayed', 'retrying') AND run_at <= ? LIMIT 1").pluck(),
      expiredLeases: p(
        `SELECT ${COLUMNS}, cancel_requested, lease FROM jobs WHERE state = 'active' AND lease_until < ?`,
      ).raw(),
      nextTimed: p("SELECT MIN(run_at) FROM jobs WHERE state IN ('delayed', 'retrying')").pluck(),
      nextLease: p("SELECT MIN(lease_until) FROM jobs WHERE state = 'active'").pluck(),
      renew: p("UPDATE jobs SET lease_until = ? WHERE owner = ? AND state = 'active'"),
      owned: p("SELECT seq, lease, cancel_requested FROM jobs WHERE owner = ? AND state = 'active'"),
      ensureQueue: p("INSERT INTO queues (name, paused) VALUES (?, 0) ON CONFLICT (name) DO NOTHING"),
      setPaused: p(
        "INSERT INTO queues (name, paused) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
      ),
      paused: p("SELECT paused FROM queues WHERE name = ?").pluck(),
      queues: p("SELECT name, paused FROM queues ORDER BY name"),
      counts: p("SELECT state, COUNT(*) AS n FROM jobs WHERE queue = ? GROUP BY state"),
      expiredCounts: p(
        "SELECT state, COUNT(*) AS n FROM jobs WHERE expires_at <= ? AND queue = ? GROUP BY state",
      ),
      event: p("INSERT INTO events (at, queue, job_id, body) VALUES (?, ?, ?, ?)"),
      maxEvent: p("SELECT COALESCE(MAX(seq), 0) FROM events").pluck(),
      events: p(
        `SELECT seq, queue, job_id, body FROM events WHERE seq > ? ORDER BY seq LIMIT ${EVENT_PAGE}`,
      ).raw(),
      // Three subqueries: MIN and MAX in one SELECT would scan the table instead of reading both ends.
      eventBounds: p(
        `SELECT (SELECT MIN(seq) FROM events) AS lo, (SELECT MAX(seq) FROM events) AS hi,
         (SELECT at FROM events ORDER BY seq LIMIT 1) AS oldest`,
      ),
      pruneEvents: p("DELETE FROM events WHERE seq < ? AND (seq <= ? OR at < ?)"),
      hasExpired: p("SELECT 1 FROM jobs WHERE expires_at <= ? LIMIT 1").pluck(),
      sweepExpired: p(
        `DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE expires_at <= ? LIMIT ${SWEEP_BATCH})`,
      ),
      dataVersion: p("PRAGMA data_version").pluck(),
    };
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE: the write lock is taken up front, so two
   * processes never deadlock upgrading a read); nested calls become savepoints. */
  write<T>(fn: () => T): T {
    return (this.db.inTransaction ? this.run(fn) : this.run.immediate(fn)) as T;
  }

  /**
   * A number that changes whenever another connection (another process, or another adapter in
   * this one) commits to the file: one cheap call tells a poller whether to look at all.
   */
  dataVersion(): number {
    return this.stmt.dataVersion.get() as number;
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────

  private emit(event: JobEvent): void {
    this.stmt.event.run(event.at, event.queue, event.jobId, JSON.stringify(event));
  }

  private emitSimple(type: JobEvent["type"], record: JobRecord, now: number): void {
    this.emit({ type, jobId: record.id, queue: record.queue, at: now, attempt: record.attempt });
  }

  /** The number of the newest event (0 when none): a subscriber sees events after it. */
  lastEvent(): number {
    return this.stmt.maxEvent.get() as number;
  }

  /** Up to {@link EVENT_PAGE} events after `after`, oldest first, as `[seq, queue, jobId, body]`. */
  readEvents(after: number): [number, string, string, string][] {
    return this.stmt.events.all(after) as [number, string, string, string][];
  }

  // ── adding ──────────────────────────────────────────────────────────────────────────────

  add(jobs: readonly PreparedJob[], now: number): AddResult[] {
    const results: AddResult[] = [];
    const queues = new Set<string>();
    for (const prepared of jobs) {
      const { job } = prepared;
      let created = this.insert(prepared, now);
      if (!created) {
        const existing = this.stmt.byId.get(job.id) as JobRow;
        if (!expired(existing, now)) {
          results.push({ job: toRecord(existing), created: false });
          continue;
        }
        // An expired job is gone as far as readers know: its id is free again.
        this.stmt.deleteSeq.run(existing[SEQ]);
        created = this.insert(prepared, now);
      }
      const record = createRecord(job, now);
      record.input = decode(prepared.input);
      record.backoff = decode(prepared.backoff);
      record.meta = decode(prepared.meta);
      if (!queues.has(job.queue)) {
        queues.add(job.queue);
        this.stmt.ensureQueue.run(job.queue);
      }
      this.emit({ type: "added", jobId: record.id, queue: record.queue, at: now });
      if (record.state === "delayed") {
        this.emit({ type: "delayed", jobId: record.id, queue: record.queue, at: now, runAt: record.runAt });
      }
      results.push({ job: record, created: true });
    }
    return results;
  }

  private insert(prepared: PreparedJob, now: number): boolean {
    const { job } = prepared;
    return (
      this.stmt.insert.run(
        job.id,
        job.queue,
        job.task,
        prepared.input,
        job.runAt > now ? "delayed" : "waiting",
        job.priority,
        job.maxAttempts,
        prepared.backoff,
        job.timeoutMs ?? null,
        job.createdAt,
        job.runAt,
        prepared.meta,
      ).changes === 1
    );
  }

  // ── writing records ─────────────────────────────────────────────────────────────────────

  /**
   * Stores a record's mutable fields. With `guard`, only while the claim holding the job is that
   * lease; returns whether the row was written.
   */
  private store(
    seq: number,
    record: JobRecord,
    claim?: { owner: string; lease: string; leaseUntil: number },
    guard?: string,
    result: string | null = encode(record.result),
  ): boolean {
    const params = [
      record.state,
      record.attempt,
      record.runAt,
      record.startedAt ?? null,
      record.finishedAt ?? null,
      encode(record.progress),
      result,
      encode(record.error),
      record.expiresAt ?? null,
      record.workerId ?? null,
      claim?.owner ?? null,
      claim?.lease ?? null,
      claim?.leaseUntil ?? null,
      0,
      seq,
    ];
    if (guard === undefined) return this.stmt.write.run(...params).changes === 1;
    return this.stmt.writeGuarded.run(...params, guard).changes === 1;
  }

  // ── claiming and finishing ──────────────────────────────────────────────────────────────

  /** Moves due delayed and retrying jobs (of every queue) to waiting, a batch at a time. */
  promoteDue(now: number): number {
    const rows = this.stmt.due.all(now) as JobRow[];
    for (const row of rows) {
      const record = promoteRecord(toRecord(row));
      this.store(row[SEQ], record);
      this.emitSimple("waiting", record, now);
    }
    return rows.length;
  }

  /**
   * Recovers active jobs whose lease ran out (their worker died or hung): back to waiting with the
   * attempt counted (`stalled`, then `waiting`), or cancelled when a cancel was requested meanwhile.
   */
  recoverExpired(now: number): number {
    const rows = this.stmt.expiredLeases.all(now) as JobRow[];
    for (const row of rows) {
      const record = toRecord(row);
      if (row[CANCEL_REQUESTED] === 1) {
        const next = cancelRecord(record, now);
        this.store(row[SEQ], next);
        this.emitSimple("cancelled", next, now);
      } else {
        const next = releaseRecord(record, true);
        this.store(row[SEQ], next);
        this.emitSimple("stalled", next, now);
        this.emitSimple("waiting", next, now);
      }
    }
    return rows.length;
  }

  /**
   * Claims up to `max` ready jobs across `queues` (paused ones skipped) in the core's ready order,
   * each with a lease of `claimant.leaseMs`.
   */
  claim(queues: readonly string[], max: number, claimant: Claimant, now: number): Claim[] {
    let rows: JobRow[] = [];
    for (const queue of queues) {
      if (this.stmt.paused.get(queue) === 1) continue;
      const found = this.ready(max).all(queue) as JobRow[];
      rows = rows.length === 0 ? found : rows.concat(found);
    }
    if (queues.length > 1) {
      rows.sort(compareRows);
      if (rows.length > max) rows.length = max;
    }
    const claims: Claim[] = [];
    const leaseUntil = now + claimant.leaseMs;
    for (const row of rows) {
      const record = claimRecord(toRecord(row), claimant.workerId, now);
      const lease = claimant.nextLease();
      this.store(row[SEQ], record, { owner: claimant.owner, lease, leaseUntil });
      this.emitSimple("active", record, now);
      claims.push({ seq: row[SEQ], lease, record });
    }
    return claims;
  }

  /** The ready query for `limit` jobs (one prepared statement per limit: see {@link PROMOTE_BATCH}). */
  private ready(limit: number): Statement {
    let statement = this.readyStatements.get(limit);
    if (statement === undefined) {
      // INDEXED BY: without statistics the planner may pick jobs_listing and sort, ten times slower.
      statement = this.db
        .prepare(
          `SELECT ${COLUMNS} FROM jobs INDEXED BY jobs_ready WHERE state = 'waiting' AND queue = ?
           ORDER BY priority DESC, run_at, created_at, seq LIMIT ${Math.floor(limit)}`,
        )
        .raw();
      this.readyStatements.set(limit, statement);
    }
    return statement;
  }

  /**
   * Persists outcomes of claims still held (a claim lost to recovery is skipped) and emits their
   * events. A result that cannot be stored as JSON fails the attempt instead.
   */
  finish(acks: readonly Ack[], now: number): void {
    for (const { claim, outcome } of acks) {
      let settled = outcome;
      let next = applyOutcome(claim.record, settled, now);
      let result: string | null;
      try {
        result = encode(next.result);
      } catch (cause) {
        const error = new ValidationError(
          "the job result",
          [{ path: "", message: `cannot be stored as JSON (${String(cause)})` }],
          { scope: "disk", cause, retryable: false },
        );
        settled = decideAfterError(claim.record, serializeError(error, claim.record.attempt), now);
        next = applyOutcome(claim.record, settled, now);
        result = null;
      }
      if (!this.store(claim.seq, next, undefined, claim.lease, result)) continue;
      claim.record = next;
      this.emit(outcomeEvent(next, settled, now));
    }
  }

  /**
   * Hands claims back without counting the attempt (a consumer closing without draining); a job
   * whose cancel was requested ends cancelled instead, so closing a worker never undoes a cancel.
   */
  release(claims: readonly Claim[], now: number): void {
    for (const claim of claims) {
      const cancel = this.stmt.bySeq.get(claim.seq, claim.lease) as ClaimRow | undefined;
      if (cancel === undefined) continue;
      if (cancel.cancel_requested === 1) {
        const next = cancelRecord(claim.record, now);
        this.store(claim.seq, next, undefined, claim.lease);
        this.emitSimple("cancelled", next, now);
      } else {
        const next = releaseRecord(claim.record, false);
        this.store(claim.seq, next, undefined, claim.lease);
        this.emitSimple("waiting", next, now);
      }
    }
  }

  /** Stores progress of a held claim and emits it; false when the claim is no longer held. */
  progress(claim: Claim, progress: Progress, now: number): boolean {
    if (this.stmt.progress.run(JSON.stringify(progress), claim.seq, claim.lease).changes !== 1) return false;
    claim.record.progress = progress;
    const record = claim.record;
    this.emit({
      type: "progress",
      jobId: record.id,
      queue: record.queue,
      at: now,
      attempt: record.attempt,
      progress,
    });
    return true;
  }

  /** Extends every lease of `owner` to `leaseUntil`. */
  renew(owner: string, leaseUntil: number): void {
    this.stmt.renew.run(leaseUntil, owner);
  }

  /** The active jobs `owner` holds, with their cancel flags. */
  owned(owner: string): OwnedJob[] {
    return (this.stmt.owned.all(owner) as ClaimRow[]).map((row) => ({
      seq: row.seq,
      lease: row.lease,
      cancelRequested: row.cancel_requested === 1,
    }));
  }

  /** Whether a delayed job is due or a lease has run out, in any queue (read only, no lock). */
  hasDueOrLapsed(now: number): boolean {
    if (this.stmt.hasDue.get(now) === 1) return true;
    const lease = this.stmt.nextLease.get() as number | null;
    return lease !== null && lease < now;
  }

  /** Whether one of `queues` that is not paused has a waiting job (read only, no lock). */
  hasReady(queues: readonly string[]): boolean {
    for (const queue of queues) {
      if (this.stmt.hasReady.get(queue) === 1 && this.stmt.paused.get(queue) !== 1) return true;
    }
    return false;
  }

  /** When the next delayed job comes due and the next lease runs out, across every queue. */
  nextDue(): NextDue {
    return {
      timedAt: orUndefined(this.stmt.nextTimed.get() as number | null),
      leaseUntil: orUndefined(this.stmt.nextLease.get() as number | null),
    };
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────────

  get(id: string, now: number): JobRecord | undefined {
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    return row === undefined || expired(row, now) ? undefined : compactRecord(toRecord(row));
  }

  list(query: JobQuery, offset: number, limit: number, now: number): JobRecord[] {
    const states = query.states === undefined ? undefined : [...new Set(query.states)];
    if (states !== undefined && states.length === 0) return [];
    const where = [NOT_EXPIRED];
    const params: unknown[] = [now];
    if (query.queue !== undefined) {
      where.push("queue = ?");
      params.push(query.queue);
    }
    if (states !== undefined) {
      where.push(`state IN (${states.map(() => "?").join(", ")})`);
      params.push(...states);
    }
    const sql = `SELECT ${COLUMNS} FROM jobs WHERE ${where.join(" AND ")} ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?`;
    let statement = this.listStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql).raw();
      this.listStatements.set(sql, statement);
    }
    return (statement.all(...params, limit, offset) as JobRow[]).map((row) => compactRecord(toRecord(row)));
  }

  counts(queue: string, now: number): JobCounts {
    const counts = emptyCounts();
    for (const { state, n } of this.stmt.counts.all(queue) as { state: JobState; n: number }[])
      counts[state] = n;
    // Finished jobs past their expiry are gone for readers even before the sweep deletes them.
    for (const { state, n } of this.stmt.expiredCounts.all(now, queue) as { state: JobState; n: number }[]) {
      counts[state] -= n;
    }
    return counts;
  }

  queueInfos(): QueueInfo[] {
    return (this.stmt.queues.all() as { name: string; paused: number }[]).map((row) => ({
      name: row.name,
      paused: row.paused === 1,
    }));
  }

  // ── managing ────────────────────────────────────────────────────────────────────────────

  retry(id: string, now: number): JobRecord | undefined {
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    if (row === undefined || expired(row, now)) return undefined;
    if (row[STATE] !== "failed" && row[STATE] !== "cancelled") return undefined;
    const next = retryRecord(toRecord(row), now);
    this.store(row[SEQ], next);
    this.emitSimple("waiting", next, now);
    return compactRecord(next);
  }

  /** Cancels a job; an active one is only flagged, and its owner aborts it (see {@link owned}). */
  cancel(id: string, now: number, expiresAt: number | undefined): CancelResult {
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    if (row === undefined || expired(row, now)) return "not-found";
    if (isTerminal(row[STATE])) return "finished";
    if (row[STATE] === "active") {
      this.stmt.cancelRequest.run(row[SEQ]);
      return "requested";
    }
    const next = cancelRecord(toRecord(row), now, expiresAt);
    this.store(row[SEQ], next);
    this.emitSimple("cancelled", next, now);
    return "cancelled";
  }

  remove(id: string, now: number): boolean {
    const row = this.stmt.byId.get(id) as JobRow | undefined;
    if (row === undefined || expired(row, now) || row[STATE] === "active") return false;
    this.stmt.deleteSeq.run(row[SEQ]);
    this.emit({ type: "removed", jobId: row[1], queue: row[2], at: now, attempt: row[7] });
    return true;
  }

  purge(queue: string, options: PurgeOptions, now: number): number {
    const states = [...new Set<JobState>(options.states ?? JOB_STATES)].filter((s) => s !== "active");
    if (states.length === 0) return 0;
    const where = ["queue = ?", `state IN (${states.map(() => "?").join(", ")})`, NOT_EXPIRED];
    const params: unknown[] = [queue, ...states, now];
    if (options.olderThanMs !== undefined) {
      where.push(
        "(CASE WHEN state IN ('completed', 'failed', 'cancelled') THEN COALESCE(finished_at, created_at) ELSE created_at END) <= ?",
      );
      params.push(now - options.olderThanMs);
    }
    const sql = `DELETE FROM jobs WHERE ${where.join(" AND ")} RETURNING id, attempt`;
    let statement = this.purgeStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.purgeStatements.set(sql, statement);
    }
    const removed = statement.all(...params) as { id: string; attempt: number }[];
    for (const { id, attempt } of removed) this.emit({ type: "removed", jobId: id, queue, at: now, attempt });
    return removed.length;
  }

  setPaused(queue: string, paused: boolean): void {
    this.stmt.setPaused.run(queue, paused ? 1 : 0);
  }

  // ── housekeeping ────────────────────────────────────────────────────────────────────────

  /** Whether finished jobs past their expiry wait to be deleted (read only). */
  hasExpired(now: number): boolean {
    return this.stmt.hasExpired.get(now) === 1;
  }

  /** Deletes a batch of finished jobs past their expiry. */
  sweepExpired(now: number): number {
    return this.stmt.sweepExpired.run(now).changes;
  }

  /**
   * The newest event an event prune would keep (0 when nothing is to be pruned): events older
   * than `cutoff` or beyond the newest `maxEvents` go, `chunk` at most per call (read only).
   */
  pruneBound(
    cutoff: number,
    maxEvents: number,
    chunk: number,
  ): { below: number; keepFrom: number } | undefined {
    const bounds = this.stmt.eventBounds.get() as {
      lo: number | null;
      hi: number | null;
      oldest: number | null;
    };
    if (bounds.lo === null || bounds.hi === null) return undefined;
    const overCount = bounds.hi - bounds.lo + 1 > maxEvents;
    const overAge = bounds.oldest !== null && bounds.oldest < cutoff;
    if (!overCount && !overAge) return undefined;
    // The newest event is never pruned: new events are numbered after it, so numbers never repeat.
    return { below: Math.min(bounds.lo + chunk, bounds.hi), keepFrom: bounds.hi - maxEvents };
  }

  /** Deletes events as {@link pruneBound} found. */
  pruneEvents(bound: { below: number; keepFrom: number }, cutoff: number): number {
    return this.stmt.pruneEvents.run(bound.below, bound.keepFrom, cutoff).changes;
  }
}
