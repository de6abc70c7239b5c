import { randomUUID } from "node:crypto";
import {
  AbortableClaim,
  type ActiveJob,
  type Consumer,
  type ConveyorError,
  checkProgress,
  JobCancelledError,
  type JobHandler,
  type JobRecord,
  LeaseLostError,
  type Outcome,
  type Progress,
  settleOutcome,
  WorkerClosingError,
} from "@conveyor/core";
import { backendError } from "./database.js";
import { type ChangeListener, listen, notify, unlisten } from "./notifier.js";
import type { Ack, Claim, Claimant, QueueStore } from "./queue-store.js";

/** How a consumer polls: from `minPollMs` when busy, doubling to `maxPollMs` while idle. */
export interface PollSettings {
  readonly minPollMs: number;
  readonly maxPollMs: number;
}

/** What a consumer shares with its adapter. */
export interface ConsumerContext {
  readonly store: QueueStore;
  readonly file: string;
  readonly poll: PollSettings;
  readonly onError: (error: unknown) => void;
}

/** Why a claim ended before its handler: another consumer recovered the job after its lease ran out. */
function leaseLost(record: JobRecord): ConveyorError {
  return new LeaseLostError(record.id, { scope: "disk" });
}

/**
 * One claim held by a consumer, handed to the handler. A class so that the lazy `signal` getter
 * lives on one shared prototype: most handlers never abort, and this is per job.
 */
class Held extends AbortableClaim implements ActiveJob {
  /** The claim ended for this consumer: outcome persisted, job released, or lease lost. */
  done = false;
  /** Released by `close({ drain: false })`: the handler's outcome is ignored and not counted. */
  detached = false;
  /** A cancel request was seen and the handler aborted. */
  cancelSeen = false;

  constructor(
    readonly claim: Claim,
    private readonly consumer: DiskConsumer,
  ) {
    super();
  }

  get record(): JobRecord {
    return this.claim.record;
  }

  // An arrow property, so a handler may pass `job.progress` around unbound.
  readonly progress = (progress: Progress): Promise<void> => {
    try {
      this.consumer.progress(this, checkProgress(progress, "disk"));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/**
 * A polling consumption loop over the queue file. Each tick is one write transaction that stores
 * the outcomes finished since the last tick, promotes due delayed jobs, recovers jobs whose lease
 * ran out, renews this consumer's leases when due and claims as many jobs as there are free
 * slots — so at concurrency 16 one commit carries up to 16 acks and 16 claims.
 *
 * Between ticks it sleeps: not at all while outcomes wait to be stored, `minPollMs` after finding
 * work, doubling up to `maxPollMs` while idle. An idle tick costs one `PRAGMA data_version`
 * (whether any other connection committed) and takes no lock; a commit in this process wakes it
 * at once.
 */
export class DiskConsumer implements Consumer, ChangeListener {
  private readonly held = new Map<number, Held>();
  private running = 0;
  private acks: (Ack & { held: Held })[] = [];
  private readonly owner = randomUUID();
  private leaseCount = 0;
  private readonly claimant: Claimant;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private dirty = true;
  private version = -1;
  private nextDueAt = 0;
  private nextRenewAt = 0;
  /** The last claim filled every free slot, so more jobs may be ready. */
  private backlog = true;
  private idleMs: number;
  private closing = false;
  private stopped = false;
  private drained: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;
  private rejectDrained: ((error: unknown) => void) | undefined;

  constructor(
    private readonly context: ConsumerContext,
    private readonly queues: readonly string[],
    private readonly concurrency: number,
    workerId: string,
    private readonly leaseMs: number,
    private readonly handler: JobHandler,
    private readonly onClosed: (consumer: DiskConsumer) => void,
  ) {
    this.idleMs = context.poll.minPollMs;
    const owner = this.owner;
    this.claimant = {
      workerId,
      owner,
      leaseMs,
      nextLease: () => `${owner}:${++this.leaseCount}`,
    };
    listen(context.file, this);
    this.scheduleNow();
  }

  get active(): number {
    return this.running;
  }

  /** Woken by a commit made in this process. */
  changed(): void {
    this.dirty = true;
    if (this.timer !== undefined) this.scheduleNow();
  }

  /** A cancel of an active job was stored in this process: abort it now if this consumer holds it. */
  cancelRequested(jobId: string): void {
    for (const held of this.held.values()) {
      if (held.record.id === jobId && !held.done && !held.cancelSeen) {
        held.cancelSeen = true;
        held.abort(new JobCancelledError(jobId));
      }
    }
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.onClosed(this);
    }
    if (this.stopped) return this.drained ?? Promise.resolve();
    this.drained ??= new Promise<void>((resolve, reject) => {
      this.resolveDrained = resolve;
      this.rejectDrained = reject;
    });
    // A second close without draining cuts short a drain that is still waiting.
    if (options.drain === false) this.releaseAll();
    else this.scheduleNow();
    return this.drained;
  }

  /** Stores progress of a held claim; ignored once the claim ended. */
  progress(held: Held, progress: Progress): void {
    if (held.done || this.stopped) return;
    const { store, file } = this.context;
    try {
      store.write(() => store.progress(held.claim, progress, Date.now()));
    } catch (error) {
      throw backendError(error, file);
    }
    notify(file, this);
  }

  // ── the loop ───────────────────────────────────────────────────────────────────────────

  private scheduleNow(): void {
    if (this.stopped || this.immediate !== undefined) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.tick();
    });
  }

  private scheduleIn(delayMs: number): void {
    if (this.stopped || this.immediate !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delayMs);
  }

  private tick(): void {
    if (this.stopped) return;
    const { store, file } = this.context;
    const now = Date.now();
    const acks = this.acks;
    this.acks = [];
    const free = this.closing ? 0 : this.concurrency - this.running;
    let claims: Claim[] = [];
    let wrote = false;
    try {
      const version = store.dataVersion();
      const changed = this.dirty || version !== this.version;
      this.dirty = false;
      this.version = version;
      const renew = this.held.size > 0 && now >= this.nextRenewAt;
      const timed = now >= this.nextDueAt;
      // Read first, without the lock: most polls find nothing to do and never block a writer.
      const maintain = (changed || timed) && store.hasDueOrLapsed(now);
      const claim =
        free > 0 &&
        (this.backlog || ((changed || timed || maintain) && (maintain || store.hasReady(this.queues))));
      const watch = this.held.size > 0 && (changed || renew);
      let owned: ReturnType<QueueStore["owned"]> | undefined;
      if (acks.length > 0 || renew || maintain || claim) {
        wrote = true;
        const done = store.write(() => {
          if (acks.length > 0) store.finish(acks, now);
          // Renewed before recovery, so a consumer whose loop was blocked keeps its own jobs.
          if (renew) store.renew(this.owner, now + this.leaseMs);
          if (maintain) {
            store.promoteDue(now);
            store.recoverExpired(now);
          }
          const claimed = claim ? store.claim(this.queues, free, this.claimant, now) : [];
          // The next due time is read in every transaction: a consumer kept busy by its backlog
          // must still promote delayed jobs on time.
          return { claimed, owned: watch ? store.owned(this.owner) : undefined, next: store.nextDue() };
        });
        claims = done.claimed;
        if (claim) this.backlog = claims.length === free;
        owned = done.owned;
        const next = done.next;
        this.nextDueAt = Math.min(next.timedAt ?? Infinity, next.leaseUntil ?? Infinity);
        if (renew) this.nextRenewAt = now + Math.max(1, Math.floor(this.leaseMs / 3));
      } else {
        if (changed || timed) {
          const next = store.nextDue();
          this.nextDueAt = Math.min(next.timedAt ?? Infinity, next.leaseUntil ?? Infinity);
        }
        if (watch) owned = store.owned(this.owner);
      }
      for (const ack of acks) {
        ack.held.done = true;
        this.held.delete(ack.claim.seq);
      }
      if (owned !== undefined) this.watch(owned);
    } catch (error) {
      // Nothing of the transaction was kept: the outcomes are stored on a later tick.
      this.acks = acks.concat(this.acks);
      this.context.onError(backendError(error, file));
      this.scheduleIn(this.context.poll.maxPollMs);
      return;
    }
    if (wrote) notify(file, this);
    if (claims.length > 0 && this.nextRenewAt === 0)
      this.nextRenewAt = now + Math.max(1, Math.floor(this.leaseMs / 3));
    for (const claim of claims) this.start(claim);
    this.next(claims.length, free);
  }

  /** Decides when the loop runs again. */
  private next(claimed: number, free: number): void {
    if (this.stopped) return;
    if (this.closing && this.running === 0 && this.acks.length === 0) {
      this.stop();
      this.resolveDrained?.();
      return;
    }
    if (this.acks.length > 0) {
      this.scheduleNow();
      return;
    }
    if (claimed > 0) this.idleMs = this.context.poll.minPollMs;
    let delay = this.idleMs;
    if (claimed === 0 || claimed < free) {
      this.idleMs = Math.min(this.idleMs * 2, this.context.poll.maxPollMs);
    }
    const now = Date.now();
    if (this.nextDueAt !== Infinity) delay = Math.min(delay, Math.max(0, this.nextDueAt - now));
    if (this.held.size > 0) delay = Math.min(delay, Math.max(0, this.nextRenewAt - now));
    this.scheduleIn(delay);
  }

  /** Aborts handlers whose job was cancelled elsewhere, and drops claims another consumer recovered. */
  private watch(owned: readonly { seq: number; lease: string | null; cancelRequested: boolean }[]): void {
    const byId = new Map<number, { lease: string | null; cancelRequested: boolean }>();
    for (const row of owned) byId.set(row.seq, row);
    for (const held of this.held.values()) {
      const row = byId.get(held.claim.seq);
      if (row === undefined || row.lease !== held.claim.lease) {
        held.done = true;
        this.held.delete(held.claim.seq);
        held.abort(leaseLost(held.record));
      } else if (row.cancelRequested && !held.cancelSeen) {
        held.cancelSeen = true;
        held.abort(new JobCancelledError(held.record.id));
      }
    }
  }

  private start(claim: Claim): void {
    const held = new Held(claim, this);
    this.held.set(claim.seq, held);
    this.running++;
    let result: Promise<Outcome>;
    try {
      result = Promise.resolve(this.handler(held));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (outcome) => this.settle(held, outcome, false),
      (error: unknown) => this.settle(held, error, true),
    );
  }

  private settle(held: Held, value: unknown, rejected: boolean): void {
    if (held.detached) return;
    this.running--;
    if (!held.done && !this.stopped) {
      this.acks.push({
        claim: held.claim,
        outcome: settleOutcome(held.record, value, rejected, "disk"),
        held,
      });
    } else {
      this.held.delete(held.claim.seq);
    }
    this.scheduleNow();
  }

  /** Stores finished outcomes, hands every running job back and aborts its handler, then stops. */
  private releaseAll(): void {
    const { store, file } = this.context;
    const acks = this.acks;
    this.acks = [];
    const running = [...this.held.values()].filter(
      (held) => !held.done && !acks.some((a) => a.held === held),
    );
    let failure: unknown;
    try {
      const now = Date.now();
      store.write(() => {
        if (acks.length > 0) store.finish(acks, now);
        store.release(
          running.map((held) => held.claim),
          now,
        );
      });
      notify(file, this);
    } catch (error) {
      // The jobs stay active under this consumer's lease; another worker recovers them once it runs out.
      failure = backendError(error, file);
    }
    for (const held of running) {
      held.done = true;
      held.detached = true;
      this.running--;
    }
    this.held.clear();
    this.stop();
    // Released before the abort, so whatever the handler does on abort finds the claim over.
    for (const held of running) held.abort(new WorkerClosingError());
    if (failure === undefined) this.resolveDrained?.();
    else this.rejectDrained?.(failure);
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    unlisten(this.context.file, this);
  }
}
