import {
  type AddResult,
  applyOutcome,
  type CancelResult,
  cancelRecord,
  claimRecord,
  createRecord,
  isTerminal,
  JOB_STATES,
  JobCancelledError,
  type JobCounts,
  type JobEvent,
  type JobEventListener,
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
} from "@conveyor/core";
import { copyValue } from "./copy.js";
import { Heap } from "./heap.js";
import { compareRanked, type Ranked, ReadyQueue } from "./ready-queue.js";
import { fullShape } from "./record.js";
import type { SharedStore } from "./registry.js";

const NOWHERE = 0;
const READY = 1;
const DELAYED = 2;

/** One stored job. `record` is never handed out: callers get copies. */
interface Slot {
  record: JobRecord;
  readonly seq: number;
  /** Bumped on every change of state, which kills the entries that point at the old state. */
  token: number;
  /** Which structure holds the slot's live entry. */
  place: typeof NOWHERE | typeof READY | typeof DELAYED;
  /** Whether the expiry heap holds a live entry for the slot. */
  expiring: boolean;
  /** The claim that holds the job while it is active. */
  holder: Held | undefined;
}

interface ReadyEntry extends Ranked {
  readonly slot: Slot;
  readonly token: number;
}

interface TimedEntry {
  readonly slot: Slot;
  readonly token: number;
  /** `runAt` for delayed entries, `expiresAt` for expiry entries. */
  readonly at: number;
}

/** One claim of one job by one consumer. */
export interface Held {
  readonly slot: Slot;
  /** Created on first use of the job's signal: most handlers never abort, and this is per job. */
  controller: AbortController | undefined;
  /** Why the claim was aborted before anyone asked for its signal. */
  abortReason: unknown;
  /** The handler's abort listener ({@link ActiveJob.onAbort}). */
  onAbort: ((reason: unknown) => void) | undefined;
  /** Set once the claim ended: outcome persisted, job released, or job gone. */
  done: boolean;
  /** A cancel arrived while the job ran. */
  cancelRequested: boolean;
}

/** What the store wakes when a queue gets a ready job. */
export interface Wakeable {
  wake(): void;
}

/** One queue's state within the store. Queue states are never deleted. */
export interface QueueState {
  readonly name: string;
  paused: boolean;
  /** Whether the queue had jobs or was paused, which makes it show in `queues()`. */
  listed: boolean;
  readonly ready: ReadyQueue<ReadyEntry>;
  readonly counts: JobCounts;
  readonly consumers: Set<Wakeable>;
}

/** A subscriber; it sees events that happen after it subscribed. */
export interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
  readonly onError: (error: unknown) => void;
  /** Number of the first event it may see. */
  readonly from: number;
  active: boolean;
}

/** The signal of a claim, created on first use (already aborted when the claim was). */
export function signalOf(held: Held): AbortSignal {
  if (held.controller === undefined) {
    held.controller = new AbortController();
    if (held.abortReason !== undefined) held.controller.abort(held.abortReason);
  }
  return held.controller.signal;
}

/** Aborts a claim's signal with `reason`; the first reason wins, as with `AbortController`. */
export function abortHeld(held: Held, reason: unknown): void {
  if (held.abortReason !== undefined) return;
  held.abortReason = reason;
  held.controller?.abort(reason);
  held.onAbort?.(reason);
}

/** Sets a claim's abort listener; called at once when the claim was already aborted. */
export function onAbortHeld(held: Held, listener: (reason: unknown) => void): void {
  held.onAbort = listener;
  if (held.abortReason !== undefined) listener(held.abortReason);
}

const isLive = (entry: { slot: Slot; token: number }): boolean => entry.slot.token === entry.token;
const compareTimed = (a: TimedEntry, b: TimedEntry): number => a.at - b.at || a.slot.seq - b.slot.seq;

// setTimeout takes at most a signed 32-bit delay; a later due time is reached in hops.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
// Expired jobs are swept lazily by every read, so the timer only frees their memory; grouping
// sweeps a second apart spares a wake-up per finished job.
const EXPIRY_SWEEP_SLACK_MS = 1_000;
const HEAP_COMPACT_MIN_STALE = 1024;

function emptyCounts(): JobCounts {
  const counts = {} as JobCounts;
  for (const state of JOB_STATES) counts[state] = 0;
  return counts;
}

/**
 * The in-process job store behind one or more memory queue adapters. Every method runs to
 * completion without awaiting, so each is atomic by construction; every change of state goes
 * through the core's state machine.
 */
export class QueueStore implements SharedStore {
  users = 0;
  private readonly jobs = new Map<string, Slot>();
  private readonly queueStates = new Map<string, QueueState>();
  private readonly delayed = new Heap<TimedEntry>(compareTimed);
  private readonly expiring = new Heap<TimedEntry>(compareTimed);
  private delayedStale = 0;
  private expiringStale = 0;
  private seq = 0;
  private consumerCount = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDueAt = 0;
  private disposed = false;

  private subscriptions: readonly Subscription[] = [];
  private eventCount = 0;
  private pending: { n: number; event: JobEvent }[] = [];
  private flushScheduled = false;

  // ── queues and consumers ────────────────────────────────────────────────────────────────

  queue(name: string): QueueState {
    let state = this.queueStates.get(name);
    if (state === undefined) {
      state = {
        name,
        paused: false,
        listed: false,
        ready: new ReadyQueue<ReadyEntry>(isLive),
        counts: emptyCounts(),
        consumers: new Set(),
      };
      this.queueStates.set(name, state);
    }
    return state;
  }

  addConsumer(consumer: Wakeable, queues: readonly QueueState[]): void {
    for (const state of queues) state.consumers.add(consumer);
    this.consumerCount++;
    this.scheduleTimer();
  }

  removeConsumer(consumer: Wakeable, queues: readonly QueueState[]): void {
    for (const state of queues) state.consumers.delete(consumer);
    this.consumerCount--;
    this.scheduleTimer();
  }

  pause(name: string): void {
    const state = this.queue(name);
    state.paused = true;
    state.listed = true;
  }

  resume(name: string): void {
    const state = this.queue(name);
    state.listed = true;
    if (!state.paused) return;
    state.paused = false;
    this.wake(state);
  }

  queueInfos(): QueueInfo[] {
    const infos: QueueInfo[] = [];
    for (const state of this.queueStates.values()) {
      if (state.listed) infos.push({ name: state.name, paused: state.paused });
    }
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ── adding and claiming ─────────────────────────────────────────────────────────────────

  /** Adds jobs whose inputs the caller already copied. Returns the stored records (not copies). */
  add(jobs: readonly NewJob[]): { job: JobRecord; created: boolean }[] {
    const now = Date.now();
    this.sweepExpired(now);
    const results: AddResult[] = [];
    for (const job of jobs) {
      const existing = this.jobs.get(job.id);
      if (existing !== undefined) {
        results.push({ job: existing.record, created: false });
        continue;
      }
      // createRecord and the state machine build full-shape records already.
      const record = createRecord(job, now);
      const slot: Slot = {
        record,
        seq: this.seq++,
        token: 0,
        place: NOWHERE,
        expiring: false,
        holder: undefined,
      };
      this.jobs.set(job.id, slot);
      const state = this.queue(job.queue);
      state.listed = true;
      state.counts[record.state]++;
      if (this.listening) this.emit({ type: "added", jobId: record.id, queue: record.queue, at: now });
      if (record.state === "delayed" && this.listening) {
        this.emit({ type: "delayed", jobId: record.id, queue: record.queue, at: now, runAt: record.runAt });
      }
      this.attach(slot, state);
      results.push({ job: record, created: true });
    }
    return results;
  }

  /**
   * Claims the best ready job across `queues` (skipping paused ones) for `workerId`, or returns
   * undefined when none is ready. Due delayed jobs are promoted first, so a claim never waits
   * for the timer.
   */
  claim(queues: readonly QueueState[], workerId: string): Held | undefined {
    const now = Date.now();
    this.promoteDue(now);
    let best: ReadyEntry | undefined;
    let bestQueue: QueueState | undefined;
    for (const state of queues) {
      if (state.paused) continue;
      const entry = state.ready.peek();
      if (entry !== undefined && (best === undefined || compareRanked(entry, best) < 0)) {
        best = entry;
        bestQueue = state;
      }
    }
    if (best === undefined || bestQueue === undefined) return undefined;
    bestQueue.ready.pop();
    const slot = best.slot;
    slot.place = NOWHERE;
    const record = claimRecord(slot.record, workerId, now);
    this.update(slot, record);
    const held: Held = {
      slot,
      controller: undefined,
      abortReason: undefined,
      onAbort: undefined,
      done: false,
      cancelRequested: false,
    };
    slot.holder = held;
    if (this.listening) {
      this.emit({ type: "active", jobId: record.id, queue: record.queue, at: now, attempt: record.attempt });
    }
    return held;
  }

  /** Persists the outcome of a claim, unless the claim already ended. */
  finish(held: Held, outcome: Outcome): void {
    if (held.done) return;
    held.done = true;
    const slot = held.slot;
    if (slot.holder !== held) return;
    slot.holder = undefined;
    const now = Date.now();
    this.update(slot, applyOutcome(slot.record, outcome, now));
    if (this.listening) this.emit(outcomeEvent(slot.record, outcome, now));
  }

  /**
   * Hands an active job back to `waiting` without counting the attempt (a consumer closing
   * without draining). A job whose cancel was requested ends `cancelled` instead, so closing
   * a worker never undoes a cancel.
   */
  release(held: Held): void {
    if (held.done) return;
    held.done = true;
    const slot = held.slot;
    if (slot.holder !== held) return;
    slot.holder = undefined;
    if (held.cancelRequested) {
      const now = Date.now();
      const record = cancelRecord(slot.record, now);
      this.update(slot, record);
      this.emit({
        type: "cancelled",
        jobId: record.id,
        queue: record.queue,
        at: now,
        attempt: record.attempt,
      });
    } else {
      this.update(slot, releaseRecord(slot.record, false));
      this.emitWaiting(slot.record);
    }
  }

  private emitWaiting(record: JobRecord): void {
    if (!this.listening) return;
    this.emit({
      type: "waiting",
      jobId: record.id,
      queue: record.queue,
      at: Date.now(),
      attempt: record.attempt,
    });
  }

  /** Stores progress of a held job and emits it; ignored once the claim ended. */
  progress(held: Held, progress: Progress): void {
    if (held.done || held.slot.holder !== held) return;
    const slot = held.slot;
    slot.record = fullShape({ ...slot.record, progress });
    const now = Date.now();
    this.emit({
      type: "progress",
      jobId: slot.record.id,
      queue: slot.record.queue,
      at: now,
      attempt: slot.record.attempt,
      progress,
    });
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────────

  get(id: string): JobRecord | undefined {
    this.sweepExpired(Date.now());
    return this.jobs.get(id)?.record;
  }

  list(query: JobQuery, offset: number, limit: number): JobRecord[] {
    this.sweepExpired(Date.now());
    const states = query.states === undefined ? undefined : new Set<JobState>(query.states);
    const matched: Slot[] = [];
    for (const slot of this.jobs.values()) {
      const record = slot.record;
      if (query.queue !== undefined && record.queue !== query.queue) continue;
      if (states !== undefined && !states.has(record.state)) continue;
      matched.push(slot);
    }
    matched.sort((a, b) => b.record.createdAt - a.record.createdAt || b.seq - a.seq);
    return matched.slice(offset, offset + limit).map((slot) => slot.record);
  }

  counts(name: string): JobCounts {
    this.sweepExpired(Date.now());
    const state = this.queueStates.get(name);
    return state === undefined ? emptyCounts() : { ...state.counts };
  }

  // ── managing ────────────────────────────────────────────────────────────────────────────

  retry(id: string): JobRecord | undefined {
    const now = Date.now();
    this.sweepExpired(now);
    const slot = this.jobs.get(id);
    if (slot === undefined) return undefined;
    if (slot.record.state !== "failed" && slot.record.state !== "cancelled") return undefined;
    this.update(slot, retryRecord(slot.record, now));
    this.emitWaiting(slot.record);
    return slot.record;
  }

  cancel(id: string, expiresAt?: number): CancelResult {
    const now = Date.now();
    this.sweepExpired(now);
    const slot = this.jobs.get(id);
    if (slot === undefined) return "not-found";
    const record = slot.record;
    if (isTerminal(record.state)) return "finished";
    if (record.state === "active" && slot.holder !== undefined) {
      const held = slot.holder;
      held.cancelRequested = true;
      // The handler ends the attempt and returns a `cancelled` outcome, which `finish` persists.
      abortHeld(held, new JobCancelledError(id));
      return "requested";
    }
    this.update(slot, cancelRecord(record, now, expiresAt));
    this.emit({ type: "cancelled", jobId: id, queue: record.queue, at: now, attempt: slot.record.attempt });
    return "cancelled";
  }

  /** Deletes a job unless it is active; returns whether it was deleted. */
  remove(id: string): boolean {
    const now = Date.now();
    this.sweepExpired(now);
    const slot = this.jobs.get(id);
    if (slot === undefined || slot.record.state === "active") return false;
    this.delete(slot);
    this.emit({
      type: "removed",
      jobId: id,
      queue: slot.record.queue,
      at: now,
      attempt: slot.record.attempt,
    });
    return true;
  }

  purge(name: string, options: PurgeOptions): number {
    const now = Date.now();
    this.sweepExpired(now);
    const states = new Set<JobState>(options.states ?? JOB_STATES);
    states.delete("active");
    const olderThanMs = options.olderThanMs;
    const doomed: Slot[] = [];
    for (const slot of this.jobs.values()) {
      const record = slot.record;
      if (record.queue !== name || !states.has(record.state)) continue;
      if (olderThanMs !== undefined) {
        const since = isTerminal(record.state) ? (record.finishedAt ?? record.createdAt) : record.createdAt;
        if (now - since < olderThanMs) continue;
      }
      doomed.push(slot);
    }
    for (const slot of doomed) {
      this.delete(slot);
      this.emit({
        type: "removed",
        jobId: slot.record.id,
        queue: name,
        at: now,
        attempt: slot.record.attempt,
      });
    }
    return doomed.length;
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────

  subscribe(
    listener: JobEventListener,
    filter: { queue?: string; jobId?: string },
    onError: (e: unknown) => void,
  ) {
    const subscription: Subscription = {
      listener,
      queue: filter.queue,
      jobId: filter.jobId,
      onError,
      from: this.eventCount,
      active: true,
    };
    this.subscriptions = [...this.subscriptions, subscription];
    return subscription;
  }

  /** Whether anyone listens; hot paths skip building events otherwise. */
  private get listening(): boolean {
    return this.subscriptions.length > 0;
  }

  unsubscribe(subscription: Subscription): void {
    subscription.active = false;
    this.subscriptions = this.subscriptions.filter((s) => s !== subscription);
  }

  /**
   * Queues an event for delivery on a microtask. Delivering later, in one FIFO, keeps the events
   * of a job in order and keeps listeners from running inside a half-done store operation.
   */
  private emit(event: JobEvent): void {
    if (!this.listening) return;
    // Listeners get their own copy: the event may share `result` or `progress` with the store.
    const copy = event.result !== undefined || event.progress || event.error ? copyValue(event) : event;
    this.pending.push({ n: this.eventCount++, event: copy });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const { n, event } of batch) {
      for (const subscription of this.subscriptions) {
        if (!subscription.active || n < subscription.from) continue;
        if (subscription.queue !== undefined && subscription.queue !== event.queue) continue;
        if (subscription.jobId !== undefined && subscription.jobId !== event.jobId) continue;
        try {
          subscription.listener(event);
        } catch (error) {
          subscription.onError(error);
        }
      }
    }
  }

  // ── state changes ───────────────────────────────────────────────────────────────────────

  /** Replaces a slot's record and moves it between structures when its state or times changed. */
  private update(slot: Slot, derived: JobRecord): void {
    const previous = slot.record;
    const next = derived;
    slot.record = next;
    if (
      previous.state === next.state &&
      previous.runAt === next.runAt &&
      previous.expiresAt === next.expiresAt
    ) {
      return;
    }
    this.detach(slot);
    const state = this.queue(next.queue);
    state.counts[previous.state]--;
    state.counts[next.state]++;
    this.attach(slot, state);
  }

  /** Puts a slot where its state says: ready jobs in the ready queue, waiting ones in the timer heap. */
  private attach(slot: Slot, state: QueueState): void {
    const record = slot.record;
    switch (record.state) {
      case "waiting":
        state.ready.push({
          slot,
          token: slot.token,
          priority: record.priority,
          runAt: record.runAt,
          createdAt: record.createdAt,
          seq: slot.seq,
        });
        slot.place = READY;
        this.wake(state);
        break;
      case "delayed":
      case "retrying":
        this.delayed.push({ slot, token: slot.token, at: record.runAt });
        slot.place = DELAYED;
        this.scheduleTimer();
        break;
      case "completed":
      case "failed":
      case "cancelled":
        if (record.expiresAt !== undefined) {
          this.expiring.push({ slot, token: slot.token, at: record.expiresAt });
          slot.expiring = true;
          this.scheduleTimer();
        }
        break;
      case "active":
        break;
    }
  }

  /** Kills the slot's entries; they are skipped (and counted as stale) wherever they sit. */
  private detach(slot: Slot): void {
    slot.token++;
    if (slot.place === READY) this.queue(slot.record.queue).ready.markStale();
    else if (slot.place === DELAYED && ++this.delayedStale >= HEAP_COMPACT_MIN_STALE) {
      if (this.delayedStale * 2 > this.delayed.size) {
        this.delayed.filter(isLive);
        this.delayedStale = 0;
      }
    }
    slot.place = NOWHERE;
    if (slot.expiring) {
      slot.expiring = false;
      if (++this.expiringStale >= HEAP_COMPACT_MIN_STALE && this.expiringStale * 2 > this.expiring.size) {
        this.expiring.filter(isLive);
        this.expiringStale = 0;
      }
    }
  }

  private delete(slot: Slot): void {
    this.detach(slot);
    this.queue(slot.record.queue).counts[slot.record.state]--;
    this.jobs.delete(slot.record.id);
  }

  private wake(state: QueueState): void {
    if (state.paused) return;
    for (const consumer of state.consumers) consumer.wake();
  }

  // ── time ────────────────────────────────────────────────────────────────────────────────

  /** The first live entry of a timed heap, dropping dead ones on the way. */
  private front(heap: Heap<TimedEntry>, which: "delayed" | "expiring"): TimedEntry | undefined {
    for (;;) {
      const entry = heap.peek();
      if (entry === undefined || isLive(entry)) return entry;
      heap.pop();
      if (which === "delayed") this.delayedStale--;
      else this.expiringStale--;
    }
  }

  /** Moves delayed and retrying jobs whose `runAt` has come to `waiting`. */
  private promoteDue(now: number): void {
    for (;;) {
      const entry = this.front(this.delayed, "delayed");
      if (entry === undefined || entry.at > now) return;
      this.delayed.pop();
      entry.slot.place = NOWHERE;
      this.update(entry.slot, promoteRecord(entry.slot.record));
      this.emitWaiting(entry.slot.record);
    }
  }

  /** Forgets finished jobs whose `expiresAt` has passed. */
  private sweepExpired(now: number): void {
    for (;;) {
      const entry = this.front(this.expiring, "expiring");
      if (entry === undefined || entry.at > now) return;
      this.expiring.pop();
      entry.slot.expiring = false;
      this.delete(entry.slot);
    }
  }

  /**
   * Keeps the one timer set for the earliest delayed job or expiry. The timer keeps the process
   * alive only while a consumer waits for a delayed job; an expiry sweep alone never does.
   */
  private scheduleTimer(): void {
    if (this.disposed) return;
    const delayed = this.front(this.delayed, "delayed");
    const expiring = this.front(this.expiring, "expiring");
    let dueAt = Number.POSITIVE_INFINITY;
    if (delayed !== undefined) dueAt = delayed.at;
    if (expiring !== undefined) dueAt = Math.min(dueAt, expiring.at + EXPIRY_SWEEP_SLACK_MS);
    if (dueAt === Number.POSITIVE_INFINITY) {
      this.clearTimer();
      return;
    }
    if (this.timer === undefined || this.timerDueAt !== dueAt) {
      this.clearTimer();
      const delayMs = Math.min(Math.max(dueAt - Date.now(), 0), MAX_TIMER_DELAY_MS);
      this.timer = setTimeout(() => this.onTimer(), delayMs);
      this.timerDueAt = dueAt;
    }
    const keepAlive = delayed !== undefined && this.consumerCount > 0;
    if (keepAlive) this.timer.ref?.();
    else this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = Date.now();
    this.promoteDue(now);
    this.sweepExpired(now);
    this.scheduleTimer();
  }

  /** Stops the timer; called when the last adapter using the store closes. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
  }
}
