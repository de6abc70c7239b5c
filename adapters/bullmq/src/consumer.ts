import {
  AbortableClaim,
  type ActiveJob,
  type Consumer,
  checkProgress,
  JobCancelledError,
  type JobHandler,
  type JobRecord,
  type Outcome,
  type Progress,
  type SerializedError,
  settleOutcome,
  WorkerClosingError,
} from "@conveyor/core";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { FIELD, type JobData } from "./record.js";
import type { AdapterCommands } from "./scripts.js";

/** What a consumer needs from its adapter. */
export interface ConsumerContext {
  readonly prefix: string;
  /** The connection of the adapter's own writes next to BullMQ's (the workers' one). */
  workerConnection(): Redis & AdapterCommands;
  /** The prefix's `cv:listeners` zset: subscribers registered until a deadline (server ms). */
  readonly listenersKey: string;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly cancelPollMs: number;
  /** `maxLenEvents` of the queue's event stream. */
  readonly maxEvents: number;
  /**
   * Whether a subscriber is known to listen to this prefix's events (told by pub/sub, and by the
   * finish script's answer after each job): a job's `cv:active` event is written as it starts
   * only then, else by the finish script, late, should a subscriber have come meanwhile.
   */
  listening(): boolean;
  /** Records what a finish script answered (1 while a subscriber listens). */
  heard(listening: number): void;
  /** Resolves once cancel notices reach this process. */
  cancelChannelReady(): Promise<void>;
  onError(error: unknown): void;
  onClosed(consumer: BullmqConsumer): void;
}

/** Thrown to BullMQ so it moves the job to its failed set; `kind` says which Conveyor end it was. */
class OutcomeError extends UnrecoverableError {
  constructor(
    readonly kind: "failed" | "cancelled",
    readonly stored: SerializedError | undefined,
    message: string,
  ) {
    super(message);
    if (stored?.stack) this.stack = stored.stack;
  }
}

/** One claimed job as the core's handler sees it. */
class Claim extends AbortableClaim implements ActiveJob {
  /** Set once the consumer hands the job back (close without drain). */
  isReleased = false;
  /** Called on release: settles whatever the job waits for (a slot, its handler) at once. */
  onRelease: (() => void) | undefined = undefined;
  /** Whether this attempt's `cv:active` event is written (or on its way). */
  activeSent = false;

  constructor(
    readonly record: JobRecord,
    readonly job: Job,
    readonly token: string,
    private readonly consumer: BullmqConsumer,
  ) {
    super();
  }

  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    this.onRelease?.();
  }

  progress(progress: Progress): Promise<void> {
    return this.consumer.progress(this, progress);
  }
}

/** What a claim's wait ends with when the consumer hands the job back first. */
const RELEASED: unique symbol = Symbol("released");

/** `work`'s outcome, or RELEASED as soon as the claim is released: one promise, no race. */
function unlessReleased<T>(claim: Claim, work: Promise<T>): Promise<T | typeof RELEASED> {
  if (claim.isReleased) return Promise.resolve(RELEASED);
  return new Promise<T | typeof RELEASED>((resolve, reject) => {
    claim.onRelease = () => resolve(RELEASED);
    work.then(resolve, reject);
  });
}

/** A counting semaphore: the consumer's concurrency, shared by its per-queue BullMQ Workers. */
class Slots {
  /** Slots nobody holds or waits for. */
  free: number;
  private readonly waiters: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  acquire(): Promise<void> | undefined {
    if (this.free > 0) {
      this.free--;
      return undefined;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

const json = (value: unknown): string => JSON.stringify(value) ?? "null";

/** A job whose finish script is still to send; `resolve` is told once it is on its way. */
interface PendingFinish {
  readonly claim: Claim;
  readonly expiresAt: number | undefined;
  /** Absent for the job whose completion sent the batch (nothing to wait for). */
  readonly resolve?: () => void;
}

/** Keys of one queue that the consumer writes for each job. */
interface QueueKeys {
  readonly events: string;
  readonly expiring: string;
}

/**
 * Consumes Conveyor queues with one BullMQ `Worker` per queue. BullMQ claims jobs, renews their
 * locks, recovers stalled ones and reconnects; the processor runs the core's handler and turns its
 * outcome into BullMQ's moves: return (completed), `UnrecoverableError` (failed, cancelled),
 * `moveToDelayed` + `DelayedError` (retry, postpone) and `moveToWait` + `WaitingError` (a job
 * handed back by a closing consumer). The concurrency is shared: at most `concurrency` handlers
 * run at once over all its queues.
 */
export class BullmqConsumer implements Consumer {
  private readonly held = new Map<string, Claim>();
  private readonly workers: Worker[];
  /** Jobs each queue's BullMQ Worker holds (running or waiting for a slot), by queue. */
  private readonly claimed = new Map<string, number>();
  private readonly slots: Slots;
  private readonly pollTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly ctx: ConsumerContext,
    private readonly queues: readonly string[],
    concurrency: number,
    private readonly workerId: string,
    leaseMs: number,
    private readonly handler: JobHandler,
  ) {
    this.slots = new Slots(concurrency);
    const connection = ctx.workerConnection();
    this.workers = queues.map((queue) => {
      const worker = new Worker(queue, (job, token) => this.process(queue, job, token ?? ""), {
        connection,
        prefix: ctx.prefix,
        // One queue alone fills every slot; several start at one each and grow with the free
        // slots (rebalance), while the shared Slots keep the running sum within concurrency.
        concurrency: queues.length > 1 ? 1 : concurrency,
        name: workerId,
        lockDuration: leaseMs,
        stalledInterval: ctx.stalledIntervalMs,
        maxStalledCount: ctx.maxStalledCount,
        autorun: false,
        metrics: { maxDataPoints: 60 * 24 * 7 },
      });
      worker.on("failed", (job, error) => {
        if (job && error instanceof OutcomeError) this.publishEnd(queue, job, error);
      });
      // Lost connections are retried by BullMQ and ioredis; report them, never crash on them.
      worker.on("error", (error) => ctx.onError(error));
      this.claimed.set(queue, 0);
      return worker;
    });
    this.pollTimer = setInterval(() => void this.pollCancels(), ctx.cancelPollMs);
    this.pollTimer.unref();
    ctx.cancelChannelReady().then(
      () => this.start(),
      () => this.start(),
    );
  }

  get active(): number {
    return this.held.size;
  }

  private start(): void {
    if (this.closing) return;
    for (const worker of this.workers) {
      worker.run().catch((error) => this.ctx.onError(error));
    }
  }

  /** Called for a cancel notice: aborts the job if this consumer runs it. */
  cancelled(id: string): void {
    this.held.get(id)?.abort(new JobCancelledError(id));
  }

  async progress(claim: Claim, progress: Progress): Promise<void> {
    const clean = checkProgress(progress, "bullmq");
    if (this.held.get(claim.record.id) !== claim || claim.isReleased) return;
    // A late active event goes ahead of the progress event (same connection, in order).
    this.finish(claim, undefined);
    await claim.job.updateProgress(clean as unknown as object);
  }

  private jobKey(queue: string, id: string): string {
    return `${this.ctx.prefix}:${queue}:${id}`;
  }

  private async process(queue: string, job: Job, token: string): Promise<unknown> {
    const data = job.data as JobData;
    const record: JobRecord = {
      id: job.id!,
      queue,
      task: job.name,
      input: data.i,
      state: "active",
      priority: data.p,
      attempt: job.attemptsStarted,
      maxAttempts: data.a,
      backoff: data.b,
      timeoutMs: data.t,
      createdAt: data.c,
      runAt: data.r,
      startedAt: job.processedOn,
      workerId: this.workerId,
      meta: data.m,
    };
    const claim = new Claim(record, job, token, this);
    this.held.set(record.id, claim);
    // One queue: BullMQ's own concurrency is the consumer's, so no job ever waits for a slot.
    const shared = this.workers.length > 1;
    let acquired = false;
    try {
      if (shared) {
        this.count(queue, 1);
        const waiting = this.slots.acquire();
        if (waiting !== undefined && (await unlessReleased(claim, waiting)) === RELEASED) {
          // The slot may still come; hand it straight on.
          void waiting.then(() => this.slots.release());
          return await this.handBack(claim);
        }
        acquired = true;
        this.rebalance();
      }
      if (this.ctx.listening()) {
        claim.activeSent = true;
        this.emit(queue, "cv:active", record.id, "attempt", record.attempt);
      }
      let value: unknown;
      let rejected = false;
      this.running++;
      try {
        value = await unlessReleased(claim, this.handler(claim));
      } catch (error) {
        value = error;
        rejected = true;
      } finally {
        this.running--;
      }
      if (value === RELEASED || claim.isReleased) return await this.handBack(claim);
      const outcome = settleOutcome(record, value, rejected, "bullmq");
      return await this.persist(queue, claim, outcome);
    } finally {
      this.held.delete(record.id);
      if (shared) {
        if (acquired) this.slots.release();
        this.count(queue, -1);
      }
    }
  }

  private count(queue: string, delta: number): void {
    this.claimed.set(queue, (this.claimed.get(queue) ?? 0) + delta);
    if (delta < 0) this.rebalance();
  }

  /**
   * With several queues, each BullMQ Worker may claim only what it holds plus the free slots, so
   * a queue claims jobs it cannot start yet only while its other fetch is in flight (at most one
   * job per queue waits for a slot). One queue keeps the full concurrency.
   */
  private rebalance(): void {
    if (this.workers.length < 2 || this.closing) return;
    const free = this.slots.free;
    this.workers.forEach((worker, i) => {
      const held = this.claimed.get(this.queues[i]!) ?? 0;
      worker.concurrency = Math.max(1, held + free);
    });
  }

  /** Back to waiting with the attempt uncounted, then the handler is told to stop. */
  private async handBack(claim: Claim): Promise<never> {
    const { job, token } = claim;
    try {
      this.finish(claim, undefined);
      await this.ctx.workerConnection().hincrby(this.jobKey(claim.record.queue, claim.record.id), "ats", -1);
      await job.moveToWait(token);
    } finally {
      claim.abort(new WorkerClosingError());
    }
    throw new WaitingError();
  }

  private async persist(queue: string, claim: Claim, outcome: Outcome): Promise<unknown> {
    const { prefix } = this.ctx;
    const redis = this.ctx.workerConnection();
    const { id, attempt } = claim.record;
    const key = this.jobKey(queue, id);
    const set = (name: string) => `${prefix}:${queue}:cv:${name}`;
    if (outcome.type === "completed") {
      // The result's expiry (and the active event if it is still due) goes out first, on the same
      // connection as BullMQ's move that follows, so Redis applies it first (see send).
      const sent = this.finishCompleted(claim, outcome.expiresAt);
      if (sent !== undefined) await sent;
      return outcome.result === undefined ? null : outcome.result;
    }
    this.finish(claim, undefined);
    switch (outcome.type) {
      case "failed":
      case "cancelled": {
        // Plain commands, not a MULTI: they go out in order with BullMQ's on the same connection (see send).
        this.send(redis.hset(key, FIELD.kind, outcome.type));
        if (outcome.error !== undefined) this.send(redis.hset(key, FIELD.error, json(outcome.error)));
        if (outcome.expiresAt !== undefined) {
          const expiresAt = Math.round(outcome.expiresAt);
          this.send(redis.hset(key, FIELD.expiresAt, expiresAt));
          this.send(redis.zadd(set("expiring"), expiresAt, id));
        }
        if (outcome.type === "cancelled") {
          this.send(redis.zadd(set("cancelled"), Date.now(), id));
          this.send(redis.hdel(key, FIELD.cancel));
        } else this.send(redis.zrem(set("cancelled"), id));
        const message = outcome.error?.message ?? (outcome.type === "cancelled" ? "cancelled" : "failed");
        throw new OutcomeError(outcome.type, outcome.error, message);
      }
      case "retry":
      case "postpone": {
        const runAt = Math.round(outcome.runAt);
        this.send(redis.hset(key, FIELD.runAt, runAt));
        if (outcome.type === "retry") {
          this.send(redis.hset(key, FIELD.kind, "retrying", FIELD.error, json(outcome.error)));
          this.send(redis.zadd(set("retrying"), runAt, id));
          this.emit(
            queue,
            "cv:retrying",
            id,
            "attempt",
            attempt,
            "error",
            json(outcome.error),
            "runAt",
            runAt,
          );
        } else {
          this.send(redis.hset(key, FIELD.kind, "delayed"));
          this.send(redis.hincrby(key, "ats", -1));
          this.send(redis.zrem(set("retrying"), id));
          this.emit(queue, "cv:delayed", id, "attempt", Math.max(0, attempt - 1), "runAt", runAt);
        }
        await claim.job.moveToDelayed(runAt, claim.token);
        throw new DelayedError();
      }
    }
  }

  /** Adds a Conveyor event to the queue's BullMQ event stream; failures are reported, not thrown. */
  private emit(queue: string, event: string, id: string, ...fields: (string | number)[]): void {
    this.ctx
      .workerConnection()
      .xadd(
        this.keysOf(queue).events,
        "MAXLEN",
        "~",
        this.ctx.maxEvents,
        "*",
        "event",
        event,
        "jobId",
        id,
        "at",
        Date.now(),
        ...fields,
      )
      .catch(this.reportError);
  }

  /**
   * Lets one of the adapter's writes of an outcome go without waiting: the worker connection
   * keeps commands in order (and retries them through an outage), so BullMQ's move that follows on
   * the same connection lands after them. Failures are reported through onError.
   */
  private send(write: Promise<unknown>): void {
    write.catch(this.reportError);
  }

  private readonly reportError = (error: unknown): void => this.ctx.onError(error);

  private readonly heard = (answer: number): void => this.ctx.heard(answer);

  /**
   * Sends the finish script ahead of the write that ends an attempt other than by completion or
   * stores its progress, on the same connection (so Redis runs it first; not awaited, see send):
   * the attempt's `cv:active` event if it was not written as the job started and a subscriber
   * listens now. Nothing is sent when that event went out already.
   */
  private finish(claim: Claim, expiresAt: number | undefined): void {
    if (claim.activeSent && expiresAt === undefined) return;
    this.sendFinish([{ claim, expiresAt }]);
  }

  /**
   * A completed job's finish (its result's expiry, maybe a late active event), sent with those
   * of every job completed in the same turn in one script call; resolves once it is on its way,
   * so BullMQ's move of the job goes out after it (undefined: sent already, or nothing to send).
   */
  private finishCompleted(claim: Claim, expiresAt: number | undefined): Promise<void> | undefined {
    if (claim.activeSent && expiresAt === undefined) return undefined;
    if (this.running === 0) {
      // No other handler is still running, so no other job can join the batch: send it now, in
      // this turn, with BullMQ's moves that follow (one socket write), instead of a turn later.
      if (this.finishing.length === 0) {
        this.sendFinish([{ claim, expiresAt }]);
        return undefined;
      }
      this.finishing.push({ claim, expiresAt });
      this.flushFinishing();
      return undefined;
    }
    return new Promise((resolve) => {
      this.finishing.push({ claim, expiresAt, resolve });
      if (this.finishing.length === 1) setImmediate(this.flushFinishing);
    });
  }

  /** Jobs whose handler has not settled yet. */
  private running = 0;

  private finishing: PendingFinish[] = [];

  private readonly flushFinishing = (): void => {
    const batch = this.finishing;
    if (batch.length === 0) return;
    this.finishing = [];
    this.sendFinish(batch);
    for (const pending of batch) pending.resolve?.();
  };

  private sendFinish(batch: readonly PendingFinish[]): void {
    const keys: string[] = [this.ctx.listenersKey];
    const args: (string | number)[] = [this.ctx.maxEvents];
    for (const { claim, expiresAt } of batch) {
      const { queue, id, attempt, startedAt } = claim.record;
      const { expiring, events } = this.keysOf(queue);
      keys.push(expiring, events);
      args.push(
        id,
        expiresAt === undefined ? "" : Math.round(expiresAt),
        claim.activeSent ? 0 : 1,
        attempt,
        startedAt ?? Date.now(),
      );
      claim.activeSent = true;
    }
    this.ctx
      .workerConnection()
      .conveyorBullmqFinish(keys.length, ...keys, ...args)
      .then(this.heard, this.reportError);
  }

  /** The keys of `queue` the consumer writes to each job, built once per queue. */
  private keysOf(queue: string): QueueKeys {
    let keys = this.queueKeys.get(queue);
    if (!keys) {
      const base = `${this.ctx.prefix}:${queue}:`;
      keys = { events: `${base}events`, expiring: `${base}cv:expiring` };
      this.queueKeys.set(queue, keys);
    }
    return keys;
  }

  private readonly queueKeys = new Map<string, QueueKeys>();

  /** After BullMQ moved the job to its failed set: the Conveyor `failed` or `cancelled` event. */
  private publishEnd(queue: string, job: Job, error: OutcomeError): void {
    const fields: (string | number)[] = ["attempt", job.attemptsStarted];
    if (error.stored !== undefined) fields.push("error", json(error.stored));
    this.emit(queue, `cv:${error.kind}`, job.id!, ...fields);
  }

  /** Backs up the cancel channel: a notice lost during a reconnect is found by polling the flag. */
  private async pollCancels(): Promise<void> {
    if (this.held.size === 0 || this.closed) return;
    const claims = [...this.held.values()];
    try {
      const pipeline = this.ctx.workerConnection().pipeline();
      for (const claim of claims)
        pipeline.hget(this.jobKey(claim.record.queue, claim.record.id), FIELD.cancel);
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([, flag], i) => {
        if (flag === "1") this.cancelled(claims[i]!.record.id);
      });
    } catch (error) {
      this.ctx.onError(error);
    }
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    const drain = options.drain ?? true;
    if (!drain) {
      for (const claim of this.held.values()) claim.release();
    }
    this.closing ??= (async () => {
      await Promise.all(
        this.workers.map((worker) => worker.close().catch((error) => this.ctx.onError(error))),
      );
      this.closed = true;
      clearInterval(this.pollTimer);
      this.ctx.onClosed(this);
    })();
    return this.closing;
  }
}
