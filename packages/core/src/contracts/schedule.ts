import type { BackoffOptions } from "./job.js";

/**
 * What a scheduler does with ticks that were due while no scheduler ran (more than the
 * scheduler's `graceMs` ago):
 * - `skip`: drop them; the schedule goes on with its next tick.
 * - `catchUp`: run the task once for all of them (the job is the first missed tick's), then go on.
 */
export type MissedTickPolicy = "skip" | "catchUp";

/** Options of the jobs a schedule enqueues; each overrides the task's own setting. */
export interface ScheduleJobOptions {
  /** Higher runs first. @defaultValue the task's priority, else 0 */
  priority?: number;
  /** Extra attempts after a failure. @defaultValue the task's retries, else 0 */
  retries?: number;
  /** Delay between attempts. @defaultValue the task's backoff */
  backoff?: BackoffOptions;
  /** Hard limit of one attempt in ms. @defaultValue the task's timeoutMs */
  timeoutMs?: number;
  /** Free-form string metadata stored with every job of the schedule. */
  meta?: Record<string, string>;
}

/**
 * A periodic task: enqueue `task` with `input` on every tick of `cron` (in `timezone`) or every
 * `everyMs`. Give exactly one of `cron` and `everyMs`.
 *
 * @example
 * ```ts
 * import type { ScheduleDefinition } from "@conveyor/core";
 *
 * const nightly: ScheduleDefinition = {
 *   name: "reports.nightly",
 *   task: "reports.build",
 *   input: { kind: "daily" },
 *   cron: "0 2 * * *",
 *   timezone: "Europe/Madrid",
 *   missed: "catchUp",
 * };
 * const heartbeat: ScheduleDefinition = { name: "ping", task: "health.ping", everyMs: 60_000 };
 * console.log(nightly, heartbeat);
 * ```
 */
export interface ScheduleDefinition {
  /** Unique name of the schedule in the backend; adding a schedule with a taken name replaces it. */
  name: string;
  /** Name of the task to enqueue (it must be registered where the scheduler runs). */
  task: string;
  /** Queue of the jobs. @defaultValue the task's queue */
  queue?: string;
  /** Input of every job (JSON), validated against the task's schema. @defaultValue undefined */
  input?: unknown;
  /**
   * A cron pattern: five fields (minute precision) or six (a leading seconds field), e.g.
   * `"0 9 * * 1-5"`; nicknames such as `"@hourly"` work too.
   */
  cron?: string;
  /**
   * IANA time zone the cron pattern is read in, e.g. `"America/New_York"` (daylight saving time
   * handled). Only with `cron`.
   * @defaultValue "UTC"
   */
  timezone?: string;
  /**
   * Fixed interval in ms (at least 100). Ticks fall on multiples of `everyMs` since the Unix epoch,
   * so every process computes the same ticks: `60_000` fires at every whole minute.
   */
  everyMs?: number;
  /** What to do with ticks missed while no scheduler ran; see {@link MissedTickPolicy}. @defaultValue "skip" */
  missed?: MissedTickPolicy;
  /** Options of the enqueued jobs. */
  jobOptions?: ScheduleJobOptions;
}

/** A schedule as a {@link ScheduleStore} keeps it: its definition and where it stands. */
export interface ScheduleRecord extends ScheduleDefinition {
  /** The policy, always present once stored. */
  missed: MissedTickPolicy;
  /**
   * A string that is equal for equal definitions (computed by the core): an upsert with the same
   * fingerprint leaves the schedule, and its next run, unchanged.
   */
  fingerprint: string;
  /** Epoch ms of the next tick to fire. */
  nextRunAt: number;
  /** Epoch ms of the last tick fired (or caught up). */
  lastRunAt?: number;
  /** Id of the job enqueued for the last tick. */
  lastJobId?: string;
  /** Why the last tick could not enqueue its job (a bad input, an unknown task), if it could not. */
  lastError?: string;
  /** Epoch ms when the schedule was first stored. */
  createdAt: number;
  /** Epoch ms when its definition last changed. */
  updatedAt: number;
}

/** What the core hands a store to upsert one schedule. */
export interface ScheduleUpsert {
  /** The definition, checked and normalised by the core (`missed` set). */
  schedule: ScheduleDefinition & { missed: MissedTickPolicy };
  /** See {@link ScheduleRecord.fingerprint}. */
  fingerprint: string;
  /** The first tick, used when the schedule is created or its definition changed. */
  nextRunAt: number;
  /** Epoch ms now. */
  now: number;
}

/** The answer to an upsert. */
export interface ScheduleUpsertResult {
  /** The schedule as stored after the call. */
  schedule: ScheduleRecord;
  /**
   * `created`: it did not exist. `updated`: its definition changed (the next run was reset).
   * `unchanged`: the same definition was stored already; nothing changed.
   */
  status: "created" | "updated" | "unchanged";
}

/**
 * The scheduler leadership one process holds. `token` is a fencing token: it grows with every
 * new holder, and a store refuses {@link ScheduleStore.advance} with a token that is not the
 * current holder's, so a leader that stalled past its lease can no longer move a schedule.
 */
export interface LeaderLease {
  /** Id of the scheduler holding it. */
  owner: string;
  /** Fencing token, greater than every token granted before. */
  token: number;
}

/** Who leads the schedulers of a store, for inspection. */
export interface LeaderInfo extends LeaderLease {
  /** Epoch ms when the lease ends unless it is renewed. */
  expiresAt: number;
}

/** What {@link ScheduleStore.advance} records. */
export interface ScheduleAdvance {
  /** The caller's lease; refused unless it is the current one. */
  lease: LeaderLease;
  /** The `nextRunAt` the caller read; refused when the stored one differs (someone advanced it). */
  expectedNextRunAt: number;
  /** The new next tick. */
  nextRunAt: number;
  /** The tick just fired, when one was. */
  lastRunAt?: number;
  /** The job enqueued for it. */
  lastJobId?: string;
  /** Why the tick enqueued nothing; cleared when omitted and `lastRunAt` is given. */
  lastError?: string;
}

/**
 * Where schedules live: a backend's table, hash or map, shared by every scheduler that opens the
 * same backend, so they survive a restart of every scheduler. Queue adapters that can hold
 * schedules expose one as {@link QueueAdapter.schedules}; the core keeps them in memory otherwise.
 *
 * Guarantees every store keeps:
 * - Each method is atomic: concurrent calls from any number of processes never interleave.
 * - `upsert` is idempotent: the same fingerprint changes nothing, not even the next run.
 * - At most one unexpired lease exists at a time, and every newly granted lease has a greater token.
 * - `advance` succeeds only for the current, unexpired lease and the expected `nextRunAt`.
 */
export interface ScheduleStore {
  /** Creates the schedule, replaces its definition (and next run) when the fingerprint differs, or leaves it. */
  upsert(entry: ScheduleUpsert): Promise<ScheduleUpsertResult>;
  /** The schedule, or `undefined`. */
  get(name: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, sorted by name. */
  list(): Promise<ScheduleRecord[]>;
  /** Schedules whose `nextRunAt` is at or before `now`, earliest first, at most `limit`. */
  due(now: number, limit: number): Promise<ScheduleRecord[]>;
  /** Deletes a schedule; whether it existed. */
  remove(name: string): Promise<boolean>;
  /**
   * Takes the leadership for `ttlMs` when nobody holds it (or the holder's lease ran out), with a
   * new, greater token; when `owner` holds it already, extends it and keeps its token. Resolves
   * `undefined` when another owner holds it.
   */
  acquireLease(owner: string, ttlMs: number): Promise<LeaderLease | undefined>;
  /** Extends the lease for `ttlMs` from now; false when it is no longer the current one. */
  renewLease(lease: LeaderLease, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once (when it is still the current one), so another scheduler takes over. */
  releaseLease(lease: LeaderLease): Promise<void>;
  /** The current unexpired lease, if any. */
  leader(): Promise<LeaderInfo | undefined>;
  /**
   * Moves a schedule to its next tick: compares the lease's token (current and unexpired) and
   * `expectedNextRunAt`, then sets `nextRunAt` and the last-run fields, in one atomic step.
   * Returns false (changing nothing) when either check fails or the schedule is gone.
   */
  advance(name: string, step: ScheduleAdvance): Promise<boolean>;
}
