import {
  AbortableClaim,
  type ActiveJob,
  type Consumer,
  ConveyorError,
  decideAfterError,
  JobCancelledError,
  type JobHandler,
  type JobRecord,
  type Outcome,
  type Progress,
  serializeError,
  ValidationError,
  WorkerClosingError,
} from "@conveyor/core";
import type { Cluster, Redis } from "ioredis";
import { backoffMs } from "../connection.js";
import { type ClaimedFields, claimedRecord } from "./record.js";
import type { QueueCommands } from "./scripts.js";

/** What a consumer needs from its adapter. */
export interface ConsumerContext {
  readonly redis: Redis & QueueCommands;
  /** `"{<prefix>}:"` */
  readonly base: string;
  readonly maxEvents: number;
  /** Waits until the command connection is usable (undefined when it is). */
  ready(): Promise<void> | undefined;
  /** Opens this consumer's own connection for the blocking wait. */
  connectBlocking(): Redis | Cluster;
  /** Resolves once cancel notices reach this process. */
  cancelChannelReady(): Promise<void>;
  onError(error: unknown): void;
  onClosed(consumer: RedisConsumer): void;
}

const OUTCOME_TYPES = new Set(["completed", "failed", "retry", "postpone", "cancelled"]);

/** One claimed job as its handler sees it. */
class Claim extends AbortableClaim implements ActiveJob {
  readonly attempt: string;

  constructor(
    readonly record: JobRecord,
    private readonly consumer: RedisConsumer,
  ) {
    super();
    this.attempt = String(record.attempt);
  }

  readonly progress = (progress: Progress): Promise<void> => this.consumer.progress(this, progress);
}

function checkProgress(progress: Progress): string {
  const issues = [];
  if (typeof progress !== "object" || progress === null)
    issues.push({ path: "", message: "must be an object" });
  else {
    if (!Number.isFinite(progress.current))
      issues.push({ path: "current", message: "must be a finite number" });
    if (progress.total !== undefined && !Number.isFinite(progress.total)) {
      issues.push({ path: "total", message: "must be a finite number when given" });
    }
    if (progress.message !== undefined && typeof progress.message !== "string") {
      issues.push({ path: "message", message: "must be a string when given" });
    }
  }
  if (issues.length > 0) throw new ValidationError("progress", issues, { scope: "redis" });
  return JSON.stringify({
    current: progress.current,
    ...(progress.total !== undefined ? { total: progress.total } : {}),
    ...(progress.message !== undefined ? { message: progress.message } : {}),
  });
}

const json = (value: unknown): string => (value === undefined ? "" : (JSON.stringify(value) ?? ""));
const time = (value: number | undefined): string | number => (value === undefined ? "" : Math.round(value));

/**
 * The five script arguments of one outcome (see claim-2.lua). Anything unusable (a rejection,
 * a malformed outcome, a result JSON cannot hold) becomes the core's own decision after an error.
 */
function encodeOutcome(claim: Claim, value: unknown, rejected: boolean): (string | number)[] {
  const { record } = claim;
  let problem: unknown;
  if (rejected) problem = value;
  else {
    const outcome = value as Outcome | undefined;
    if (typeof outcome !== "object" || outcome === null || !OUTCOME_TYPES.has(outcome.type)) {
      problem = new ConveyorError(
        "INVALID_OUTCOME",
        "the job handler returned no valid outcome. This is a bug in the runtime; report it.",
        { scope: "redis" },
      );
    } else {
      try {
        return encodeValid(record, outcome);
      } catch (error) {
        problem = new ValidationError(
          "the job result",
          [{ path: "", message: `cannot be stored (${String(error)})` }],
          {
            scope: "redis",
            cause: error,
          },
        );
      }
    }
  }
  const fallback = decideAfterError(record, serializeError(problem, record.attempt), Date.now());
  return encodeValid(record, fallback);
}

function encodeValid(record: JobRecord, outcome: Outcome): (string | number)[] {
  const id = record.id;
  const attempt = String(record.attempt);
  switch (outcome.type) {
    case "completed":
      return [id, attempt, "completed", json(outcome.result), time(outcome.expiresAt)];
    case "failed":
      return [id, attempt, "failed", json(outcome.error), time(outcome.expiresAt)];
    case "retry":
      if (!Number.isFinite(outcome.runAt)) throw new Error("a retry outcome needs a finite runAt");
      return [id, attempt, "retry", json(outcome.error), Math.round(outcome.runAt)];
    case "postpone":
      if (!Number.isFinite(outcome.runAt)) throw new Error("a postpone outcome needs a finite runAt");
      return [id, attempt, "postpone", "", Math.round(outcome.runAt)];
    case "cancelled":
      return [id, attempt, "cancelled", json(outcome.error), time(outcome.expiresAt)];
  }
}

/** Claim calls that may overlap: one round trip hides behind another. */
const MAX_IN_FLIGHT = 3;

/**
 * Most jobs one claim call takes. A consumer claims for all its free slots at once: with each
 * command written as issued, one call per batch beat two calls of half a batch each (c10: about
 * 1.3× the jobs/s, less Node and Redis CPU per job, bench/src/redis-ab.ts). The bound keeps one
 * script short for a very wide consumer, since Redis runs nothing else meanwhile.
 */
const MAX_BATCH = 100;

/**
 * A claim that brings at least this many jobs, and more than half the consumer's slots, runs
 * them in two halves, the second from the next macrotask: the outcomes of the first half, with
 * the claim for their slots, reach Redis while this process runs the second half, so the two
 * work at the same time instead of taking turns. A half is not split again, so a busy consumer
 * settles into two calls of half its slots each, out of phase. In one interleaved run on a quiet
 * machine (bench/src/redis-ab.ts 5 20000 10,50 0) this was 1.33× the jobs/s at concurrency 10
 * and 1.18× at 50, each of 5 rounds, for about 10–20 % more Node CPU per job.
 */
const SPLIT_AT = 8;

/**
 * How often a busy consumer's claim also recovers stalled jobs, promotes due ones and forgets
 * expired ones: at most this late after a lease ran out or a job came due that it did not know
 * of (another process's retry); its own retries and woken waits ask for it at once.
 */
const MAINTAIN_EVERY_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A consumption loop on Redis. One script call (claim-2) persists the outcomes of the handlers
 * that finished since the last call and claims jobs for its free slots (up to {@link MAX_BATCH}
 * per call), so a busy worker makes about one round trip per batch of jobs. When nothing is
 * ready it waits on its queues' wake-up lists with one blocking connection shared by all its
 * slots, until a job arrives or the earliest delayed job comes due. A timer renews the leases of
 * the jobs it holds.
 */
export class RedisConsumer implements Consumer {
  private readonly held = new Map<string, Claim>();
  /** Outcomes not yet persisted, five arguments each. */
  private outcomes: (string | number)[] = [];
  private outcomeCount = 0;
  private inFlight = 0;
  private reserved = 0;
  private scheduled = false;
  private again = false;
  private blocking = false;
  private blocker: Redis | Cluster | undefined;
  private closing = false;
  private closed = false;
  private failures = 0;
  private drained: (() => void) | undefined;
  private drainPromise: Promise<void> | undefined;
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly signalKeys: string[];
  private started = false;
  private releasing = false;
  private soon = false;
  /** The last claim got every job it asked for: more are probably waiting. */
  private backlog = false;
  /** Housekeeping (see claim-2.lua `maintain`): asked on the next call, last done at, next due. */
  private maintainNext = true;
  private maintainedAt = 0;
  private nextDue = -1;
  /** Most jobs one claim call takes (see {@link MAX_BATCH} and claimSoon). */
  private readonly batchMax: number;

  constructor(
    private readonly ctx: ConsumerContext,
    private readonly queues: readonly string[],
    private readonly concurrency: number,
    private readonly workerId: string,
    private readonly leaseMs: number,
    private readonly handler: JobHandler,
  ) {
    this.signalKeys = queues.map((queue) => `${ctx.base}q:${queue}:s`);
    this.batchMax = Math.min(concurrency, MAX_BATCH);
    this.leaseTimer = setInterval(() => this.renew(), Math.max(50, Math.floor(leaseMs / 3)));
    this.leaseTimer.unref();
    ctx.cancelChannelReady().then(
      () => this.start(),
      () => this.start(),
    );
  }

  get active(): number {
    return this.held.size;
  }

  private start(): void {
    this.started = true;
    this.requestClaim();
  }

  /** Called for a cancel notice: aborts the job if this consumer runs it. */
  cancelled(id: string): void {
    this.held.get(id)?.abort(new JobCancelledError(id));
  }

  async progress(claim: Claim, progress: Progress): Promise<void> {
    const text = checkProgress(progress);
    if (this.held.get(claim.record.id) !== claim) return;
    const { redis, base, maxEvents } = this.ctx;
    await redis.conveyorQueueProgress(
      `${base}events`,
      base,
      Date.now(),
      maxEvents,
      this.workerId,
      claim.record.id,
      claim.attempt,
      text,
    );
  }

  /**
   * Claims for the slots one call left free (a consumer wider than {@link MAX_BATCH}) from the
   * next macrotask on, in a call of its own: the calls then come back at different times, and
   * this process runs one batch while Redis runs the script of the other.
   */
  private claimSoon(): void {
    if (this.soon) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      this.requestClaim();
    });
  }

  /**
   * Asks for a claim call on the next microtask, so the outcomes of handlers that settle in the
   * same tick go out together. Up to {@link MAX_IN_FLIGHT} calls overlap; free slots are
   * reserved by the call that asked for them.
   */
  private requestClaim(): void {
    if (!this.started || this.closed || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.claim();
    });
  }

  private async claim(): Promise<void> {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.again = true;
      return;
    }
    const outcomes = this.outcomes;
    const n = this.outcomeCount;
    const free = this.closing ? 0 : Math.max(0, this.concurrency - this.held.size - this.reserved);
    const count = Math.min(free, this.batchMax);
    if (n === 0 && count === 0) {
      this.checkDrained();
      return;
    }
    this.outcomes = [];
    this.outcomeCount = 0;
    this.inFlight++;
    this.reserved += count;
    // Only with a backlog: a worker woken for one job would make a second call for nothing.
    if (free > count && this.backlog) this.claimSoon();
    const { redis, base, maxEvents } = this.ctx;
    let reply: [ClaimedFields[], number, number[]];
    const now = Date.now();
    const maintain =
      this.maintainNext ||
      now - this.maintainedAt >= MAINTAIN_EVERY_MS ||
      (this.nextDue !== -1 && now >= this.nextDue);
    if (maintain) {
      this.maintainNext = false;
      this.maintainedAt = now;
    }
    try {
      const waiting = this.ctx.ready();
      if (waiting !== undefined) await waiting;
      reply = await redis.conveyorQueueClaim(
        `${base}events`,
        `${base}paused`,
        base,
        now,
        maxEvents,
        this.workerId,
        this.leaseMs,
        count,
        n,
        maintain ? "1" : "0",
        ...outcomes,
        ...this.queues,
      );
      this.failures = 0;
    } catch (error) {
      if (maintain) this.maintainNext = true;
      // Nothing is lost: the outcomes go out again with the next call (a repeat of one that
      // did land is refused by its attempt check).
      this.outcomes = outcomes.concat(this.outcomes);
      this.outcomeCount += n;
      this.reserved -= count;
      this.failures++;
      if (this.failures === 1) this.ctx.onError(error);
      if (this.closed) {
        this.inFlight--;
        return;
      }
      await sleep(backoffMs(this.failures));
      this.inFlight--;
      this.requestClaim();
      return;
    }
    this.reserved -= count;
    this.inFlight--;
    const [claimed, nextDue] = reply;
    if (nextDue !== -2) this.nextDue = nextDue;
    this.backlog = count > 0 && claimed.length === count;
    if (this.releasing && claimed.length > 0) {
      // Claimed while closing without draining: straight back to waiting.
      await this.release(claimed.map((fields) => new Claim(claimedRecord(fields, now, this.workerId), this)));
      return;
    }
    const claims: Claim[] = [];
    for (const fields of claimed) {
      const claim = new Claim(claimedRecord(fields, now, this.workerId), this);
      this.held.set(claim.record.id, claim);
      claims.push(claim);
    }
    if (claims.length < SPLIT_AT || claims.length * 2 <= this.concurrency) {
      for (const claim of claims) this.run(claim);
    } else {
      // The first half's outcomes go out (with the claim for their slots) before the second
      // half runs: Redis runs that call while this process runs the other half.
      const half = Math.ceil(claims.length / 2);
      for (let i = 0; i < half; i++) this.run(claims[i]!);
      setImmediate(() => {
        for (let i = half; i < claims.length; i++) {
          const claim = claims[i]!;
          // Released or lost meanwhile: no longer ours to run.
          if (this.held.get(claim.record.id) === claim) this.run(claim);
        }
      });
    }
    if (this.again || this.outcomeCount > 0) {
      this.again = false;
      this.requestClaim();
    } else if (this.closing) {
      this.checkDrained();
    } else if (claimed.length < count || count === 0) {
      if (this.held.size + this.reserved < this.concurrency) this.block(this.nextDue);
    } else {
      this.requestClaim();
    }
  }

  /** Waits for a wake-up token of one of the queues, or until the next delayed job is due. */
  private block(nextDue: number): void {
    if (this.blocking || this.closing) return;
    const idleMs = Math.max(50, Math.floor(this.leaseMs / 2));
    const waitMs = nextDue === -1 ? idleMs : Math.min(idleMs, nextDue - Date.now());
    if (waitMs <= 0) {
      this.requestClaim();
      return;
    }
    this.blocking = true;
    this.blocker ??= this.ctx.connectBlocking();
    const seconds = (Math.max(1, Math.ceil(waitMs)) / 1000).toFixed(3);
    this.blocker.blpop(...this.signalKeys, seconds).then(
      () => {
        this.blocking = false;
        // Woken by a new job or a due time: look at the delayed and stalled jobs too.
        this.maintainNext = true;
        this.requestClaim();
      },
      async (error: unknown) => {
        if (this.closing) {
          this.blocking = false;
          return;
        }
        this.failures++;
        if (this.failures === 1) this.ctx.onError(error);
        await sleep(backoffMs(this.failures));
        this.blocking = false;
        this.requestClaim();
      },
    );
  }

  private run(claim: Claim): void {
    let result: Promise<Outcome>;
    try {
      result = Promise.resolve(this.handler(claim));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (outcome) => this.settle(claim, outcome, false),
      (error: unknown) => this.settle(claim, error, true),
    );
  }

  private settle(claim: Claim, value: unknown, rejected: boolean): void {
    // Released, or its lease was lost: the outcome is no longer ours to persist.
    if (this.held.get(claim.record.id) !== claim) return;
    this.held.delete(claim.record.id);
    const args = encodeOutcome(claim, value, rejected);
    if (args[2] === "retry" || args[2] === "postpone") {
      const due = Number(args[4]);
      if (this.nextDue === -1 || due < this.nextDue) this.nextDue = due;
    }
    for (const arg of args) this.outcomes.push(arg);
    this.outcomeCount++;
    this.requestClaim();
  }

  /** Renews the leases of held jobs; aborts those lost or asked to cancel. */
  private async renew(): Promise<void> {
    if (this.held.size === 0 || this.closed) return;
    const pairs: string[] = [];
    for (const claim of this.held.values()) pairs.push(claim.record.id, claim.attempt);
    const { redis, base } = this.ctx;
    try {
      const [lost, cancel] = await redis.conveyorQueueExtend(
        `${base}events`,
        base,
        Date.now() + this.leaseMs,
        this.workerId,
        ...pairs,
      );
      for (const id of lost) {
        const claim = this.held.get(id);
        if (claim === undefined) continue;
        this.held.delete(id);
        claim.abort(
          new ConveyorError(
            "LEASE_LOST",
            `the lease on job ${id} was lost (its worker was unreachable for longer than leaseMs); another worker may run it.`,
            { scope: "redis" },
          ),
        );
      }
      for (const id of cancel) this.cancelled(id);
      if (lost.length > 0) this.requestClaim();
    } catch (error) {
      this.ctx.onError(error);
    }
  }

  private checkDrained(): void {
    if (!this.closing || this.held.size > 0 || this.outcomeCount > 0 || this.inFlight > 0) return;
    this.finishClose();
  }

  private finishClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    this.blocker?.disconnect();
    this.ctx.onClosed(this);
    this.drained?.();
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      // Stops a blocking wait at once.
      if (this.blocking) this.blocker?.disconnect();
    }
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    if (options.drain === false) void this.releaseAll();
    else if (this.inFlight === 0) this.checkDrained();
    if (!this.started) this.finishClose();
    return this.drainPromise;
  }

  /** Hands every held job back to waiting (uncounted), then aborts its handler. */
  private async releaseAll(): Promise<void> {
    this.releasing = true;
    const claims = [...this.held.values()];
    this.held.clear();
    await this.release(claims);
    // Outcomes already decided are still persisted before close resolves.
    for (let i = 0; i < 40 && (this.inFlight > 0 || this.outcomeCount > 0); i++) {
      if (this.inFlight === 0) this.requestClaim();
      await sleep(5);
    }
    this.finishClose();
  }

  private async release(claims: readonly Claim[]): Promise<void> {
    if (claims.length > 0) {
      const pairs: string[] = [];
      for (const claim of claims) pairs.push(claim.record.id, claim.attempt);
      const { redis, base, maxEvents } = this.ctx;
      try {
        await redis.conveyorQueueRelease(
          `${base}events`,
          base,
          Date.now(),
          maxEvents,
          this.workerId,
          ...pairs,
        );
      } catch (error) {
        // Unreachable Redis: the leases run out and any worker recovers the jobs.
        this.ctx.onError(error);
      }
      const reason = new WorkerClosingError();
      for (const claim of claims) claim.abort(reason);
    }
  }
}
