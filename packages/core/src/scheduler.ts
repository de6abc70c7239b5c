import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Cron } from "croner";
import type { QueueAdapter } from "./contracts/queue.js";
import type {
  LeaderInfo,
  LeaderLease,
  MissedTickPolicy,
  ScheduleAdvance,
  ScheduleDefinition,
  ScheduleRecord,
  ScheduleStore,
  ScheduleUpsertResult,
} from "./contracts/schedule.js";
import type { Logger } from "./contracts/task.js";
import type { Conveyor, EnqueueOptions } from "./conveyor.js";
import {
  ClosedError,
  ConfigError,
  isConveyorError,
  UnknownTaskError,
  ValidationError,
  type ValidationIssue,
} from "./errors.js";
import { createLocalScheduleStore } from "./schedule-store.js";
import { validate } from "./schema.js";

/**
 * Options of {@link createScheduler}.
 *
 * @example
 * ```ts
 * import type { SchedulerOptions } from "@conveyor/core";
 * const options: SchedulerOptions = { leaseMs: 10_000, schedules: [{ name: "ping", task: "health.ping", everyMs: 60_000 }] };
 * ```
 */
export interface SchedulerOptions {
  /** Schedules upserted by {@link Scheduler.start} (e.g. the config's `schedules`). @defaultValue [] */
  schedules?: readonly ScheduleDefinition[];
  /** Where schedules live. @defaultValue the queue adapter's `schedules`, else a store in this process */
  store?: ScheduleStore;
  /** Id of this scheduler in the leader lease. @defaultValue `<host>:<pid>:<random>` */
  id?: string;
  /**
   * How long the leadership lasts without renewal; the leader renews it every third of it. A leader
   * that dies is replaced within one lease.
   * @defaultValue 10_000
   */
  leaseMs?: number;
  /** Pause between two looks at the due schedules; a tick fires at most this late. @defaultValue 200 */
  pollIntervalMs?: number;
  /**
   * How late a tick may still fire. Ticks later than this were missed (no scheduler ran) and
   * follow their schedule's `missed` policy; ticks up to this late each fire, so a leader
   * handover loses none.
   * @defaultValue 2 × leaseMs
   */
  graceMs?: number;
  /** Where lines go. @defaultValue the platform's logger */
  log?: Logger;
}

/** The jobs a schedule enqueues carry these `meta` keys. */
export const SCHEDULE_META = {
  /** The schedule's name. */
  schedule: "conveyor.schedule",
  /** The tick the job is for, epoch ms as a decimal string. */
  tick: "conveyor.tick",
  /** `"true"` on the one job that catches up missed ticks. */
  catchUp: "conveyor.catchUp",
} as const;

/**
 * Runs periodic tasks: keeps schedules in the backend and, while it leads, enqueues each due tick's
 * job. Run as many schedulers as you like (one per worker host, say): one leads at a time through a
 * lease with a fencing token, and each tick's job has the id {@link scheduleJobId}, so a tick is
 * enqueued once even across a change of leader.
 */
export interface Scheduler {
  /** This scheduler's id in the leader lease. */
  readonly id: string;
  /** Where the schedules live. */
  readonly store: ScheduleStore;
  /** Whether the store is the backend's (shared by processes) rather than this process's memory. */
  readonly shared: boolean;
  /** Whether this scheduler leads now. */
  readonly isLeader: boolean;
  /** Resolves once the scheduler is closed. */
  readonly closed: Promise<void>;
  /** Upserts {@link SchedulerOptions.schedules} and starts firing ticks until {@link Scheduler.close}. */
  start(): Promise<void>;
  /**
   * Checks a schedule (task registered, input valid for its schema, pattern and time zone valid)
   * and upserts it: the same definition again changes nothing, a changed one restarts from its
   * next tick.
   */
  add(schedule: ScheduleDefinition): Promise<ScheduleUpsertResult>;
  /** Deletes a schedule; whether it existed. */
  remove(name: string): Promise<boolean>;
  /** One schedule, or `undefined`. */
  get(name: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, sorted by name. */
  list(): Promise<ScheduleRecord[]>;
  /** The current leader of the store, if one holds an unexpired lease. */
  leader(): Promise<LeaderInfo | undefined>;
  /**
   * One round of the loop: takes or renews the leadership, then fires every due tick. Resolves the
   * number of jobs enqueued. {@link Scheduler.start} calls it every `pollIntervalMs`.
   */
  runOnce(): Promise<number>;
  /** Stops firing and gives the leadership up at once (when held). */
  close(): Promise<void>;
}

const DEFAULTS = {
  leaseMs: 10_000,
  pollIntervalMs: 200,
} as const;

/**
 * The id of a schedule's job for one tick: `schedule/<name>/<tick>`, the name URI-encoded and the
 * tick in epoch ms. Every scheduler computes the same id for a tick, so the queue's dedupe by id
 * keeps one job per tick. Slashes and URI encoding keep it valid on every queue (BullMQ refuses
 * `:` in job ids).
 *
 * @example
 * ```ts
 * import { scheduleJobId } from "@conveyor/core";
 * scheduleJobId("reports:nightly", 1_767_232_800_000); // "schedule/reports%3Anightly/1767232800000"
 * ```
 */
export function scheduleJobId(name: string, tick: number): string {
  return `schedule/${encodeURIComponent(name)}/${tick}`;
}

/** Far in the future (the largest Date): the next run of a cron pattern that has none left. */
const NEVER = 8_640_000_000_000_000;
const MIN_EVERY_MS = 100;
const DUE_BATCH = 100;
/** Longest pause between two rounds while they keep failing. */
const MAX_BACKOFF_MS = 5_000;
/** Ticks one schedule may fire in one round; the rest wait for the next round. */
const MAX_TICKS_PER_ROUND = 1_000;

const crons = new Map<string, Cron>();

function cronOf(pattern: string, timezone: string | undefined): Cron {
  const key = `${pattern}\u0000${timezone ?? ""}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    cron = new Cron(pattern, { paused: true, timezone: timezone ?? "UTC" });
    crons.set(key, cron);
  }
  return cron;
}

/**
 * The first tick of `schedule` strictly after `after` (epoch ms). Cron ticks are read in the
 * schedule's time zone; `everyMs` ticks are multiples of `everyMs` since the epoch.
 *
 * @example
 * ```ts
 * import { nextTick } from "@conveyor/core";
 * nextTick({ name: "n", task: "t", everyMs: 1_000 }, 1_500); // 2_000
 * nextTick({ name: "n", task: "t", cron: "0 9 * * *", timezone: "America/New_York" }, Date.UTC(2026, 0, 1));
 * ```
 */
export function nextTick(
  schedule: Pick<ScheduleDefinition, "cron" | "timezone" | "everyMs">,
  after: number,
): number {
  if (schedule.everyMs !== undefined) return (Math.floor(after / schedule.everyMs) + 1) * schedule.everyMs;
  const next = cronOf(schedule.cron!, schedule.timezone).nextRun(new Date(after));
  return next === null ? NEVER : next.getTime();
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) out[key] = canonical(item);
  }
  return out;
}

const isNonEmptyString = (value: unknown): value is string =>
  typeof value === "string" && value.trim() !== "";

/**
 * Checks a schedule definition and returns it normalised (`missed` set, the input as JSON would
 * store it) with its fingerprint. Throws a `ValidationError` listing every problem.
 *
 * @example
 * ```ts
 * import { normalizeSchedule } from "@conveyor/core";
 * const { schedule, fingerprint } = normalizeSchedule({ name: "ping", task: "health.ping", everyMs: 60_000 });
 * console.log(schedule.missed, fingerprint.length > 0); // "skip" true
 * ```
 */
export function normalizeSchedule(definition: ScheduleDefinition): {
  schedule: ScheduleDefinition & { missed: MissedTickPolicy };
  fingerprint: string;
} {
  const issues: ValidationIssue[] = [];
  if (typeof definition !== "object" || definition === null) {
    throw new ValidationError("the schedule", [{ path: "", message: "must be an object" }], {
      scope: "scheduler",
    });
  }
  const d = definition;
  if (!isNonEmptyString(d.name)) issues.push({ path: "name", message: "must be a non-empty string" });
  if (!isNonEmptyString(d.task)) issues.push({ path: "task", message: "must be a non-empty string" });
  if (d.queue !== undefined && !isNonEmptyString(d.queue))
    issues.push({ path: "queue", message: "must be a non-empty string when given" });
  if ((d.cron === undefined) === (d.everyMs === undefined))
    issues.push({ path: "cron", message: "give exactly one of cron and everyMs" });
  if (d.everyMs !== undefined && !(Number.isInteger(d.everyMs) && d.everyMs >= MIN_EVERY_MS))
    issues.push({ path: "everyMs", message: `must be an integer of at least ${MIN_EVERY_MS}` });
  if (d.timezone !== undefined) {
    if (d.cron === undefined) issues.push({ path: "timezone", message: "only applies to cron schedules" });
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: d.timezone });
    } catch {
      issues.push({
        path: "timezone",
        message: `"${String(d.timezone)}" is not an IANA time zone (e.g. "Europe/Paris")`,
      });
    }
  }
  if (d.cron !== undefined) {
    if (!isNonEmptyString(d.cron)) issues.push({ path: "cron", message: "must be a cron pattern" });
    else if (!issues.some((issue) => issue.path === "timezone")) {
      try {
        if (nextTick(d, Date.now()) === NEVER)
          issues.push({ path: "cron", message: `"${d.cron}" has no future tick` });
      } catch (error) {
        issues.push({ path: "cron", message: (error as Error).message });
      }
    }
  }
  if (d.missed !== undefined && d.missed !== "skip" && d.missed !== "catchUp")
    issues.push({ path: "missed", message: 'must be "skip" or "catchUp"' });
  let input: unknown;
  try {
    const json = d.input === undefined ? undefined : JSON.stringify(d.input);
    input = json === undefined ? undefined : JSON.parse(json);
  } catch (error) {
    issues.push({ path: "input", message: `cannot be stored as JSON (${(error as Error).message})` });
  }
  const options = d.jobOptions;
  if (options !== undefined) {
    if (typeof options !== "object" || options === null)
      issues.push({ path: "jobOptions", message: "must be an object" });
    else {
      if (options.priority !== undefined && !Number.isFinite(options.priority))
        issues.push({ path: "jobOptions.priority", message: "must be a finite number" });
      if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0))
        issues.push({ path: "jobOptions.retries", message: "must be a non-negative integer" });
      if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0))
        issues.push({ path: "jobOptions.timeoutMs", message: "must be a positive number" });
      if (
        options.meta !== undefined &&
        (typeof options.meta !== "object" ||
          options.meta === null ||
          !Object.values(options.meta).every((v) => typeof v === "string"))
      )
        issues.push({ path: "jobOptions.meta", message: "must map names to strings" });
    }
  }
  if (issues.length > 0) {
    const what = isNonEmptyString(d.name) ? `the schedule "${d.name}"` : "the schedule";
    throw new ValidationError(what, issues, { scope: "scheduler" });
  }
  const schedule = canonical({
    name: d.name,
    task: d.task,
    queue: d.queue,
    input,
    cron: d.cron?.trim(),
    timezone: d.timezone,
    everyMs: d.everyMs,
    missed: d.missed ?? "skip",
    jobOptions: options,
  }) as ScheduleDefinition & { missed: MissedTickPolicy };
  return { schedule, fingerprint: JSON.stringify(schedule) };
}

// Stores of schedulers that fall back to memory, one per queue adapter, so every scheduler of
// one platform in this process sees the same schedules.
const localStores = new WeakMap<QueueAdapter, ScheduleStore>();

function settle(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value >= min)) {
    throw new ConfigError(`the scheduler option ${name} must be a number of at least ${min}, not ${value}.`, {
      scope: "scheduler",
    });
  }
  return value;
}

/** Whether an enqueue failure will fail the same way on every try (so the tick is recorded, not retried). */
function isPermanent(error: unknown): boolean {
  return isConveyorError(error) && !error.retryable && !(error instanceof ClosedError);
}

/**
 * Creates a scheduler on a platform. Schedules live in the queue adapter's schedule store when it
 * has one (`disk://`, `redis://`: shared by every process, surviving restarts); otherwise in this
 * process's memory, where each tick's job still dedupes by id across processes sharing the queue.
 * Call {@link Scheduler.start} to fire ticks; the other methods work without starting it.
 *
 * @example
 * ```ts
 * import { createConveyor, createScheduler, defineTask } from "@conveyor/core";
 *
 * const ping = defineTask({ name: "health.ping", run: () => "pong" });
 * const conveyor = await createConveyor({ tasks: [ping], logger: false });
 * const scheduler = createScheduler(conveyor, {
 *   schedules: [{ name: "ping-every-minute", task: "health.ping", cron: "* * * * *", timezone: "UTC" }],
 * });
 * await scheduler.start();
 * console.log(await scheduler.list());
 * await scheduler.close();
 * await conveyor.close();
 * ```
 */
export function createScheduler(conveyor: Conveyor, options: SchedulerOptions = {}): Scheduler {
  const leaseMs = settle("leaseMs", options.leaseMs, DEFAULTS.leaseMs, 100);
  const pollIntervalMs = settle("pollIntervalMs", options.pollIntervalMs, DEFAULTS.pollIntervalMs, 1);
  const graceMs = settle("graceMs", options.graceMs, 2 * leaseMs, 0);
  const log = options.log ?? conveyor.log;
  const id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const backendStore = options.store ?? conveyor.queue.schedules;
  let store = backendStore;
  if (store === undefined) {
    store = localStores.get(conveyor.queue) ?? createLocalScheduleStore();
    localStores.set(conveyor.queue, store);
  }
  const s = store;
  // Checked before the scheduler exists, so a bad config schedule fails createScheduler, not later.
  const configured = (options.schedules ?? []).map((definition) => normalizeSchedule(definition));

  let lease: LeaderLease | undefined;
  /** performance.now() after which this process no longer trusts its lease. */
  let trustedUntil = 0;
  let renewAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<number> | undefined;
  let started = false;
  let closing = false;
  let markClosed: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  // A margin for timer and clock drift between processes: the lease is trusted a bit less long
  // than the store keeps it.
  const marginMs = Math.max(1, Math.round(leaseMs / 10));

  const ensureOpen = () => {
    if (closing) throw new ClosedError("this scheduler", { scope: "scheduler" });
  };

  const upsert = async (definition: ScheduleDefinition, checked = normalizeSchedule(definition)) => {
    const { schedule, fingerprint } = checked;
    const task = conveyor.tasks().find((t) => t.name === schedule.task);
    if (task === undefined)
      throw new UnknownTaskError(
        schedule.task,
        conveyor.tasks().map((t) => t.name),
      );
    await validate(task.task.input, schedule.input, `input of schedule "${schedule.name}"`);
    const now = Date.now();
    const result = await s.upsert({ schedule, fingerprint, nextRunAt: nextTick(schedule, now), now });
    if (result.status !== "unchanged")
      log.info(`schedule ${result.status}`, {
        schedule: schedule.name,
        nextRunAt: new Date(result.schedule.nextRunAt).toISOString(),
      });
    return result;
  };

  const enqueueTick = async (record: ScheduleRecord, tick: number, catchUp: boolean) => {
    const jobOptions = record.jobOptions ?? {};
    const enqueueOptions: EnqueueOptions = {
      ...jobOptions,
      jobId: scheduleJobId(record.name, tick),
      ...(record.queue !== undefined ? { queue: record.queue } : {}),
      meta: {
        ...jobOptions.meta,
        [SCHEDULE_META.schedule]: record.name,
        [SCHEDULE_META.tick]: String(tick),
        ...(catchUp ? { [SCHEDULE_META.catchUp]: "true" } : {}),
      },
    };
    return conveyor.enqueue(record.task, record.input, enqueueOptions);
  };

  const trusted = () => lease !== undefined && performance.now() < trustedUntil;

  /** Fires the due ticks of one schedule; resolves how many jobs it enqueued. */
  const fire = async (record: ScheduleRecord): Promise<number> => {
    let fired = 0;
    let nextRunAt = record.nextRunAt;
    for (let round = 0; round < MAX_TICKS_PER_ROUND && nextRunAt <= Date.now(); round++) {
      if (!trusted() || closing) return fired;
      const now = Date.now();
      const tick = nextRunAt;
      const missed = now - tick > graceMs;
      // A missed tick resumes at the first tick still within the grace period.
      const next = missed ? nextTick(record, now - graceMs - 1) : nextTick(record, tick);
      const step: ScheduleAdvance = { lease: lease!, expectedNextRunAt: tick, nextRunAt: next };
      if (!missed || record.missed === "catchUp") {
        try {
          const job = await enqueueTick(record, tick, missed);
          step.lastRunAt = tick;
          step.lastJobId = job.id;
          if (job.created) fired++;
          log.debug("schedule fired", { schedule: record.name, tick, jobId: job.id, created: job.created });
        } catch (error) {
          if (!isPermanent(error)) throw error;
          // The same tick would fail again: record why and move on rather than retry forever.
          step.lastRunAt = tick;
          step.lastError = (error as Error).message;
          log.error("schedule could not enqueue its job", {
            schedule: record.name,
            tick,
            error: step.lastError,
          });
        }
      } else {
        log.info("schedule skipped missed ticks", {
          schedule: record.name,
          from: new Date(tick).toISOString(),
          resumesAt: new Date(next).toISOString(),
        });
      }
      if (!(await s.advance(record.name, step))) {
        // Another leader moved it, or the schedule changed or went away: look again next round.
        return fired;
      }
      nextRunAt = next;
    }
    return fired;
  };

  const runOnce = async (): Promise<number> => {
    const startedAt = performance.now();
    if (lease === undefined) {
      lease = await s.acquireLease(id, leaseMs);
      if (lease !== undefined) {
        trustedUntil = startedAt + leaseMs - marginMs;
        renewAt = startedAt + leaseMs / 3;
        log.info("scheduler leads", { scheduler: id, token: lease.token });
      }
    } else if (startedAt >= renewAt) {
      if (await s.renewLease(lease, leaseMs)) {
        trustedUntil = startedAt + leaseMs - marginMs;
        renewAt = startedAt + leaseMs / 3;
      } else {
        log.warn("scheduler lost the leadership", { scheduler: id, token: lease.token });
        lease = undefined;
      }
    }
    if (!trusted()) return 0;
    let fired = 0;
    for (const record of await s.due(Date.now(), DUE_BATCH)) {
      if (!trusted() || closing) break;
      fired += await fire(record);
    }
    return fired;
  };

  // While the backend is away, rounds back off (up to MAX_BACKOFF_MS) and only the first failure
  // of an outage is a warning, so an outage does not flood the log.
  let failures = 0;
  const loop = () => {
    timer = undefined;
    if (closing) return;
    running = runOnce().then(
      (fired) => {
        if (failures > 0)
          log.info("scheduler rounds succeed again", { scheduler: id, failedRounds: failures });
        failures = 0;
        return fired;
      },
      (error: unknown) => {
        failures++;
        const fields = { scheduler: id, error: (error as Error)?.message ?? String(error) };
        if (failures === 1) log.warn("scheduler round failed; retrying with backoff", fields);
        else log.debug("scheduler round failed again", { ...fields, failedRounds: failures });
        return 0;
      },
    );
    void running.finally(() => {
      running = undefined;
      const delayMs =
        failures === 0
          ? pollIntervalMs
          : Math.min(MAX_BACKOFF_MS, pollIntervalMs * 2 ** Math.min(failures, 10));
      if (!closing) timer = setTimeout(loop, Math.max(pollIntervalMs, delayMs));
    });
  };

  return {
    id,
    store: s,
    shared: backendStore !== undefined,
    get isLeader() {
      return trusted();
    },
    closed,
    async start() {
      ensureOpen();
      if (started) return;
      started = true;
      for (const checked of configured) await upsert(checked.schedule, checked);
      if (backendStore === undefined && conveyor.queue.capabilities.shared) {
        log.info(
          "the queue adapter keeps no schedules: this scheduler holds them in memory; ticks still enqueue once across processes (the job id dedupes)",
          { adapter: conveyor.queue.name },
        );
      }
      loop();
    },
    async add(definition) {
      ensureOpen();
      return upsert(definition);
    },
    async remove(name) {
      ensureOpen();
      const removed = await s.remove(name);
      if (removed) log.info("schedule removed", { schedule: name });
      return removed;
    },
    get: (name) => s.get(name),
    list: () => s.list(),
    leader: () => s.leader(),
    runOnce() {
      ensureOpen();
      return runOnce();
    },
    async close() {
      if (closing) return closed;
      closing = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
      const held = lease;
      lease = undefined;
      try {
        if (held !== undefined) await s.releaseLease(held);
      } finally {
        markClosed();
      }
    },
  };
}
