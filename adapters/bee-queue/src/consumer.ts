import {
  AbortableClaim,
  type ActiveJob,
  type Consumer,
  ConveyorError,
  checkProgress,
  JobCancelledError,
  type JobHandler,
  type JobRecord,
  type Outcome,
  type Progress,
  settleOutcome,
  ValidationError,
  WorkerClosingError,
} from "@conveyor/core";
import type BeeQueue from "bee-queue";
import type { RedisClient } from "redis";
import {
  type Bee,
  type BeeJobParts,
  CONVEYOR_BACKOFF,
  createWorkerBee,
  Finished,
  finishJobsWith,
  type TakenJob,
  takeJobsWith,
} from "./bee.js";
import { backoffMs } from "./connection.js";
import { toRecord } from "./record.js";
import { runScript, type ScriptName } from "./scripts.js";

/** What a consumer needs from its adapter. */
export interface ConsumerContext {
  readonly client: RedisClient;
  readonly prefix: string;
  /** `"<prefix>:#conveyor:"` */
  readonly cv: string;
  /** `"<prefix>:"` */
  readonly bq: string;
  /** Resolves once cancel notices reach this process. */
  cancelChannelReady(): Promise<void>;
  /** Reloads Bee-Queue's scripts when Redis forgot them. */
  reloadBeeScripts(): Promise<void>;
  onError(error: unknown): void;
  onClosed(consumer: BeeConsumer): void;
}

/** Settings of one consumer, resolved by the adapter. */
export interface ConsumerSettings {
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly checkIntervalMs: number;
}

// Bee-Queue's close() waits this long at most for running handlers (setTimeout's maximum).
const CLOSE_TIMEOUT_MS = 2 ** 31 - 1;

/** How long a consumer closing without draining keeps retrying what Redis has not taken yet. */
export const WRITE_GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const json = (value: unknown): string => (value === undefined ? "" : (JSON.stringify(value) ?? ""));
const time = (value: number | undefined): string | number => (value === undefined ? "" : Math.round(value));

/**
 * The Bee-Queue job of a claim. A claimed Conveyor job's is made from its record (the claim script
 * does not read Bee-Queue's JSON, which holds nothing else the worker needs); for one that must
 * not run, Bee-Queue's JSON, if any, tells a foreign job from a gone one.
 */
function beeParts(data: string, answer: JobRecord | string): BeeJobParts | undefined {
  if (typeof answer !== "string") {
    return { data: { task: answer.task }, options: { timestamp: answer.createdAt } };
  }
  if (data === "") return undefined;
  const parsed = JSON.parse(data) as { data?: unknown; options?: Record<string, unknown> };
  return { data: parsed.data, options: parsed.options ?? {} };
}

/** The finish script's answer when it also took the next job: see finish-0.lua. */
type FinishAndTake = number | [number, string, string, string[] | string];

/** One claimed job as its handler sees it. */
class Claim extends AbortableClaim implements ActiveJob {
  /** Set when the claim ended without an outcome of ours: released by close, or lost. */
  ended: "released" | "lost" | undefined;
  /** The release script's call, awaited before Bee-Queue is told to requeue the job. */
  releasing: Promise<unknown> | undefined;
  readonly attempt: string;

  constructor(
    readonly record: JobRecord,
    private readonly consumer: BeeConsumer,
  ) {
    super();
    this.attempt = String(record.attempt);
  }

  readonly progress = (progress: Progress): Promise<void> => this.consumer.progress(this, progress);
}

/** Tells Bee-Queue to put the job back: waiting at once, or in its delayed set for `delayMs`. */
function beeRequeue(job: BeeQueue.Job<unknown>, delayMs: number): never {
  const options = job.options as { retries: number; backoff: unknown; stacktraces: string[] };
  options.retries = 1;
  options.backoff = { strategy: CONVEYOR_BACKOFF, delay: Math.max(0, Math.round(delayMs)) };
  // Bee-Queue keeps one line per thrown error in the job; the Conveyor record has the real one.
  options.stacktraces = [];
  throw new Error("requeued by Conveyor");
}

/** The finish script's arguments for an outcome; anything unusable becomes the core's decision after an error. */
function encodeOutcome(record: JobRecord, outcome: Outcome): { outcome: Outcome; args: (string | number)[] } {
  try {
    switch (outcome.type) {
      case "completed":
        return { outcome, args: ["completed", json(outcome.result), time(outcome.expiresAt)] };
      case "failed":
        return { outcome, args: ["failed", json(outcome.error), time(outcome.expiresAt)] };
      case "retry":
        return { outcome, args: ["retry", json(outcome.error), Math.round(outcome.runAt)] };
      case "postpone":
        return { outcome, args: ["postpone", "", Math.round(outcome.runAt)] };
      case "cancelled":
        return { outcome, args: ["cancelled", json(outcome.error), time(outcome.expiresAt)] };
    }
  } catch (error) {
    const problem = new ValidationError(
      "the job result",
      [{ path: "", message: `cannot be stored as JSON (${String(error)})` }],
      { scope: "bee-queue", cause: error },
    );
    return encodeOutcome(record, settleOutcome(record, problem, true, "bee-queue"));
  }
}

/**
 * A consumption loop on Bee-Queue: one Bee-Queue worker queue per consumed queue claims jobs,
 * renews them against stalling and requeues retries; this class runs the Conveyor handler on
 * each, keeps the Conveyor record in step (claim, progress, outcome, release) and runs Bee-Queue's
 * stall check, its delayed-job activation and a check of the running jobs on a timer.
 */
export class BeeConsumer implements Consumer {
  private readonly held = new Map<string, Claim>();
  private readonly bees = new Set<Bee>();
  private readonly parked: (() => void)[] = [];
  private running = 0;
  private closing = false;
  private closed: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private failing = false;
  /** Set when a closing consumer stops retrying writes (Redis unreachable for too long). */
  private abandoned = false;
  private abandonTimer: NodeJS.Timeout | undefined;
  /** Outcomes written without waiting (completed, failed, cancelled); close() waits for them. */
  private readonly writes = new Set<Promise<unknown>>();
  /** Counts Bee-Queue's deliveries to this consumer: the claim token. */
  private deliveries = 0;
  /** Resolves once cancel notices reach this consumer (or subscribing to them failed). */
  private readonly channel: Promise<void>;
  /** Claims made as Bee-Queue took the job (see take), by job id, until its handler runs. */
  private readonly taken = new Map<string, JobRecord | string>();
  /**
   * Jobs the finish script took as it finished one (see finishAndTake), oldest first, for the
   * Bee-Queue worker's next takes. Each finish is followed by one take, so none waits long.
   */
  private readonly next: Promise<TakenJob | undefined>[] = [];

  constructor(
    private readonly ctx: ConsumerContext,
    private readonly settings: ConsumerSettings,
    private readonly handler: JobHandler,
  ) {
    this.timer = setInterval(() => void this.kick(), settings.checkIntervalMs);
    this.timer.unref();
    // Claims start once cancel notices can reach this consumer (and so once Redis answers); the
    // Bee-Queue queues connect meanwhile.
    this.channel = ctx.cancelChannelReady().catch(() => {});
    this.start();
  }

  get active(): number {
    return this.held.size;
  }

  private start(): void {
    for (const queue of this.settings.queues) this.launch(queue, 1);
  }

  /**
   * Opens the Bee-Queue worker queue of `queue` and starts it processing. Bee-Queue gives up on a
   * queue whose first connection fails, so a failed one is closed and opened again with backoff.
   */
  private launch(queue: string, attempt: number): void {
    if (this.closing) return;
    const bee = createWorkerBee(queue, {
      prefix: this.ctx.prefix,
      client: this.ctx.client,
      stallIntervalMs: this.settings.leaseMs,
      delayedWindowMs: this.settings.checkIntervalMs,
    });
    // One queue: the claim is the read of the job (one round trip, not two). With several, a job
    // may wait for a slot after Bee-Queue took it, and must not be active meanwhile.
    if (this.settings.queues.length === 1) {
      takeJobsWith(
        bee,
        (id) => this.take(bee, queue, id),
        () => this.takeNext(bee, queue),
      );
    }
    finishJobsWith(bee, (id) => this.taken.has(id));
    bee.on("error", (error: unknown) => this.report(error));
    bee.on("stalled", (id: string) => {
      this.script("stalled-0", [queue, id]).catch((error: unknown) => this.report(error));
    });
    this.bees.add(bee);
    Promise.all([bee.ready(), this.channel]).then(
      () => {
        if (this.closing) return;
        bee.process(this.settings.concurrency, (job: BeeQueue.Job<unknown>) => this.run(job));
      },
      (error: unknown) => {
        this.report(error);
        this.bees.delete(bee);
        bee.close().catch(() => {});
        setTimeout(() => this.launch(queue, attempt + 1), backoffMs(attempt)).unref();
      },
    );
  }

  /** Logs the first of a run of failures; a success ends the run. */
  private report(error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.ctx.onError(error);
  }

  private script<T>(name: ScriptName, args: readonly (string | number)[]): Promise<T> {
    const { ctx } = this;
    return runScript<T>(ctx.client, name, [ctx.cv, ctx.bq, Date.now(), ...args]);
  }

  /**
   * Runs a script until it answers, with backoff while Redis is away. A claim gives up once the
   * consumer closes (the job has not started: it goes back); an outcome once a closing consumer
   * lets its writes go.
   */
  private async persist<T>(name: ScriptName, args: readonly (string | number)[]): Promise<T> {
    for (let failures = 1; ; failures++) {
      if (this.abandoned || (this.closing && name === "claim-0" && failures > 1))
        throw new Error(
          `[conveyor:bee-queue] ${name} was not written: the worker closed while Redis was unreachable`,
        );
      try {
        const reply = await this.script<T>(name, args);
        this.failing = false;
        return reply;
      } catch (error) {
        this.report(error);
        await sleep(backoffMs(failures));
      }
    }
  }

  /**
   * Bee-Queue took job `id` off the waiting list: claims it in one script call (see beeParts).
   * The claim waits in `taken` for the handler (runClaimed); one Bee-Queue drops because it is
   * closing goes back at once.
   */
  private async take(bee: Bee, queue: string, id: string): Promise<BeeJobParts | undefined> {
    const [data, reply] = await this.script<[string, string[] | string]>("claim-0", [
      id,
      this.settings.workerId,
      ++this.deliveries,
      queue,
    ]);
    const answer = typeof reply === "string" ? reply : toRecord(reply);
    const parts = beeParts(data, answer);
    if (parts === undefined) return undefined;
    this.taken.set(id, answer);
    if (bee.paused) await this.giveBack(id, queue);
    return parts;
  }

  /** The oldest job a finish took, for the Bee-Queue worker's take; see takeJobsWith. */
  private takeNext(bee: Bee, queue: string): Promise<TakenJob | undefined> | undefined {
    return this.next.shift()?.then(async (job) => {
      if (job !== undefined && bee.paused) await this.giveBack(job.id, queue);
      return job;
    });
  }

  /**
   * Hands back a claim made by take whose handler will not run (the job was never started).
   * With `beeQueue`, Bee-Queue will not put the job back itself (it dropped it, or never got it):
   * the release script returns it to the front of Bee-Queue's waiting list.
   */
  private async giveBack(id: string, beeQueue = ""): Promise<void> {
    const reply = this.taken.get(id);
    if (reply === undefined) return;
    this.taken.delete(id);
    if (typeof reply === "string") return;
    await this.script("release-0", [this.settings.workerId, beeQueue, id, String(reply.attempt)]).catch(
      (error: unknown) => this.report(error),
    );
  }

  /** Called for a cancel notice: aborts the job if this consumer runs it. */
  cancelled(id: string): void {
    this.held.get(id)?.abort(new JobCancelledError(id));
  }

  async progress(claim: Claim, progress: Progress): Promise<void> {
    const clean = checkProgress(progress, "bee-queue");
    if (this.held.get(claim.record.id) !== claim) return;
    await this.script("progress-0", [
      claim.record.id,
      this.settings.workerId,
      claim.attempt,
      JSON.stringify(clean),
    ]);
  }

  /** Waits for a free slot: the consumer's concurrency spans all its queues. */
  private async slot(): Promise<void> {
    while (this.running >= this.settings.concurrency && !this.closing) {
      await new Promise<void>((resolve) => this.parked.push(resolve));
    }
  }

  private freeSlot(): void {
    this.running--;
    this.parked.shift()?.();
  }

  /** Bee-Queue's handler for one claimed job. What it returns or throws tells Bee-Queue what to do next. */
  private async run(job: BeeQueue.Job<unknown>): Promise<unknown> {
    if (this.running >= this.settings.concurrency) await this.slot();
    // Claimed by Bee-Queue while closing: straight back to its waiting list.
    if (this.closing) {
      await this.giveBack(job.id);
      beeRequeue(job, 0);
    }
    this.running++;
    try {
      return await this.runClaimed(job);
    } finally {
      this.freeSlot();
    }
  }

  private async runClaimed(job: BeeQueue.Job<unknown>): Promise<unknown> {
    const { workerId } = this.settings;
    let reply = this.taken.get(job.id);
    if (reply !== undefined) this.taken.delete(job.id);
    else {
      try {
        const answer = await this.persist<[string, string[] | string]>("claim-0", [
          job.id,
          workerId,
          ++this.deliveries,
          job.queue.name,
        ]);
        reply = typeof answer[1] === "string" ? answer[1] : toRecord(answer[1]);
      } catch {
        // Closing while Redis is away: the job never started here.
        return beeRequeue(job, 0);
      }
    }
    if (typeof reply === "string") {
      // 'skip': finished or cancelled while it waited; 'gone': removed, expired, or not a Conveyor job.
      // The claim took it off Bee-Queue's active list; Bee-Queue must not count it succeeded.
      if (reply === "gone" && typeof (job.data as { task?: unknown })?.task !== "string") {
        this.ctx.onError(
          new ConveyorError(
            "FOREIGN_JOB",
            `job ${job.id} on Bee-Queue queue "${job.queue.name}" was not added through Conveyor; it was dropped. Add jobs with conveyor.enqueue().`,
            { scope: "bee-queue" },
          ),
        );
      }
      return new Finished("succeeded");
    }
    const claim = new Claim(reply, this);
    this.held.set(job.id, claim);
    let outcome: Outcome;
    try {
      outcome = await this.handler(claim);
    } catch (error) {
      outcome = settleOutcome(claim.record, error, true, "bee-queue");
    }
    if (this.held.get(job.id) === claim) this.held.delete(job.id);
    if (claim.ended === "released") {
      await claim.releasing;
      beeRequeue(job, 0);
    }
    // Recovered as stalled: its Bee-Queue entry belongs to its next delivery.
    if (claim.ended === "lost") return new Finished("succeeded");

    const encoded = encodeOutcome(claim.record, settleOutcome(claim.record, outcome, false, "bee-queue"));
    // The finish script also does Bee-Queue's finishing writes (off its active list, into its
    // succeeded or failed set, or requeued for a retry), only while the attempt is still ours: a
    // job recovered as stalled meanwhile belongs to its new delivery. Bee-Queue writes nothing.
    const args = [job.id, workerId, claim.attempt, ...encoded.args, job.queue.name];
    const final = encoded.outcome;
    if (final.type === "retry" || final.type === "postpone") {
      const requeued = (await this.persist<number>("finish-0", args)) === 1;
      return new Finished(requeued ? "retrying" : "succeeded");
    }
    // Nothing waits for the answer here: the worker's next take does (see finishAndTake). A
    // failed write is retried until it lands (the script is idempotent), and close() waits for it.
    const write =
      this.settings.queues.length === 1 && !this.closing
        ? this.finishAndTake(args)
        : this.persist<number>("finish-0", args).catch((error: unknown) => this.report(error));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return new Finished(final.type === "completed" ? "succeeded" : "failed");
  }

  /**
   * Writes a final outcome and takes the worker's next job in the same script call (a claim
   * token of its own), as BullMQ's moveToFinished does: on a busy queue a job then costs one
   * round trip, not a BRPOPLPUSH, a claim and a finish. The job goes to `next` for the Bee-Queue
   * worker's next take (and to `taken`, which close() gives back if no take comes). A failed call
   * is retried without taking: a lost answer may have taken a job that only the stall check
   * recovers, and a second take would leave another one so.
   */
  private finishAndTake(args: readonly (string | number)[]): Promise<void> {
    const sent = this.script<FinishAndTake>("finish-0", [...args, ++this.deliveries]);
    const taken = sent.then(
      (reply): TakenJob | undefined => {
        this.failing = false;
        if (typeof reply === "number" || reply[1] === "") return undefined;
        const answer = typeof reply[3] === "string" ? reply[3] : toRecord(reply[3]);
        const parts = beeParts(reply[2], answer);
        if (parts === undefined) return undefined;
        this.taken.set(reply[1], answer);
        return { id: reply[1], ...parts };
      },
      (error: unknown) => {
        this.report(error);
        return undefined;
      },
    );
    this.next.push(taken);
    return sent.then(
      () => undefined,
      () =>
        this.persist<number>("finish-0", args).then(
          () => undefined,
          (error: unknown) => this.report(error),
        ),
    );
  }

  /** On the check timer: stall check, delayed jobs, and what became of the jobs held here. */
  async kick(): Promise<void> {
    if (this.closing) return;
    for (const bee of this.bees) {
      bee.checkStalledJobs().catch((error: unknown) => this.recover(error));
      bee._activateDelayed();
    }
    // Finished jobs whose TTL passed go with their index entries (see prune-0).
    this.script("prune-0", []).catch((error: unknown) => this.report(error));
    if (this.held.size === 0) return;
    const claims = [...this.held.values()];
    const pairs: string[] = [];
    for (const claim of claims) pairs.push(claim.record.id, claim.attempt);
    let answers: number[];
    try {
      answers = await this.script<number[]>("poll-0", [this.settings.workerId, ...pairs]);
    } catch (error) {
      this.report(error);
      return;
    }
    claims.forEach((claim, i) => {
      if (answers[i] === 1) claim.abort(new JobCancelledError(claim.record.id));
      else if (answers[i] === 2 && this.held.get(claim.record.id) === claim) {
        claim.ended = "lost";
        this.held.delete(claim.record.id);
        claim.abort(
          new ConveyorError(
            "LEASE_LOST",
            `job ${claim.record.id} was recovered as stalled (its worker did not renew it for longer than leaseMs); another worker may run it.`,
            { scope: "bee-queue" },
          ),
        );
      }
    });
  }

  private recover(error: unknown): void {
    if (error instanceof Error && /NOSCRIPT/.test(error.message)) {
      this.ctx.reloadBeeScripts().catch((cause: unknown) => this.report(cause));
      return;
    }
    this.report(error);
  }

  /** Hands every held job back (to waiting, uncounted), then aborts its handler. */
  private releaseAll(): void {
    const claims = [...this.held.values()].filter((claim) => claim.ended === undefined);
    if (claims.length === 0) return;
    const pairs: string[] = [];
    for (const claim of claims) pairs.push(claim.record.id, claim.attempt);
    const releasing = this.script("release-0", [this.settings.workerId, "", ...pairs]).catch(
      (error: unknown) => {
        // Unreachable Redis: Bee-Queue's stall check recovers the jobs.
        this.report(error);
      },
    );
    const reason = new WorkerClosingError();
    for (const claim of claims) {
      claim.ended = "released";
      claim.releasing = releasing;
      this.held.delete(claim.record.id);
      claim.abort(reason);
    }
  }

  /**
   * A consumer closing without draining gives the writes of its outcomes {@link WRITE_GRACE_MS}
   * while Redis is unreachable, then lets them go: Bee-Queue's stall check recovers those jobs.
   * A draining one waits for Redis, as it waits for its handlers.
   */
  private abandonLater(): void {
    this.abandonTimer ??= setTimeout(() => {
      this.abandoned = true;
      // Bee-Queue's close waits for its last commands, which wait in the offline queue of a
      // disconnected client: ending its own connections lets them fail and the close finish.
      for (const bee of this.bees) {
        const own = bee as unknown as { bclient?: RedisClient | null; eclient?: RedisClient | null };
        for (const client of [own.bclient, own.eclient]) if (client && !client.connected) client.end(true);
      }
    }, WRITE_GRACE_MS);
    this.abandonTimer.unref();
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      clearInterval(this.timer);
      // Jobs Bee-Queue claimed that wait for a slot go straight back.
      for (const wake of this.parked.splice(0)) wake();
    }
    if (options.drain === false) {
      this.releaseAll();
      this.abandonLater();
    }
    this.closed ??= (async () => {
      await Promise.all(
        [...this.bees].map((bee) =>
          bee.close(CLOSE_TIMEOUT_MS).catch((error: unknown) => this.report(error)),
        ),
      );
      // Outcomes still being written (see abandonLater), then claims of jobs Bee-Queue dropped
      // while closing or a finish took for a take that never came: back to Bee-Queue's waiting.
      await Promise.allSettled([...this.writes]);
      const queue = this.settings.queues[0]!;
      await Promise.allSettled([...this.taken.keys()].map((id) => this.giveBack(id, queue)));
      clearTimeout(this.abandonTimer);
      this.ctx.onClosed(this);
    })();
    return this.closed;
  }
}
