import type { JobEvent, JobEventListener } from "@conveyor/core";
import type { PollSettings } from "./consumer.js";
import { backendError } from "./database.js";
import { type ChangeListener, listen, unlisten } from "./notifier.js";
import { EVENT_PAGE, type QueueStore } from "./queue-store.js";

/** One subscriber; it sees the events stored after it subscribed. */
export interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
  /** The newest event when it subscribed; it sees only later ones. */
  readonly from: number;
  active: boolean;
}

/**
 * Tails the events table for every subscription of one adapter: one reader however many
 * subscribers, polling like a consumer (a `PRAGMA data_version` per idle poll, `minPollMs` to
 * `maxPollMs`), woken at once by commits in this process. It runs, and keeps the process alive,
 * only while someone is subscribed.
 */
export class EventTail implements ChangeListener {
  private subscriptions: readonly Subscription[] = [];
  private cursor = 0;
  private version = -1;
  private dirty = false;
  private idleMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;

  constructor(
    private readonly store: QueueStore,
    private readonly file: string,
    private readonly poll: PollSettings,
    private readonly onError: (error: unknown) => void,
  ) {
    this.idleMs = poll.minPollMs;
  }

  subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }): Subscription {
    const from = this.store.lastEvent();
    if (this.subscriptions.length === 0) {
      this.cursor = from;
      this.version = this.store.dataVersion();
      listen(this.file, this);
    }
    const subscription: Subscription = {
      listener,
      queue: filter.queue,
      jobId: filter.jobId,
      from,
      active: true,
    };
    this.subscriptions = [...this.subscriptions, subscription];
    this.idleMs = this.poll.minPollMs;
    this.scheduleIn(this.idleMs);
    return subscription;
  }

  unsubscribe(subscription: Subscription): void {
    subscription.active = false;
    this.subscriptions = this.subscriptions.filter((s) => s !== subscription);
    if (this.subscriptions.length === 0) this.stop();
  }

  /** Stops tailing (the adapter is closing). */
  stop(): void {
    for (const subscription of this.subscriptions) subscription.active = false;
    this.subscriptions = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    unlisten(this.file, this);
  }

  changed(): void {
    this.dirty = true;
    if (this.immediate !== undefined || this.subscriptions.length === 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.read();
    });
  }

  private scheduleIn(delayMs: number): void {
    if (this.immediate !== undefined || this.subscriptions.length === 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.read();
    }, delayMs);
  }

  private read(): void {
    if (this.subscriptions.length === 0) return;
    let rows: [number, string, string, string][] = [];
    try {
      const version = this.store.dataVersion();
      if (this.dirty || version !== this.version) {
        this.dirty = false;
        this.version = version;
        rows = this.store.readEvents(this.cursor);
      }
    } catch (error) {
      this.onError(backendError(error, this.file));
      this.scheduleIn(this.poll.maxPollMs);
      return;
    }
    for (const [seq, queue, jobId, body] of rows) {
      this.cursor = seq;
      let event: JobEvent | undefined;
      for (const subscription of this.subscriptions) {
        if (!subscription.active || seq <= subscription.from) continue;
        if (subscription.queue !== undefined && subscription.queue !== queue) continue;
        if (subscription.jobId !== undefined && subscription.jobId !== jobId) continue;
        event ??= JSON.parse(body) as JobEvent;
        try {
          subscription.listener(event);
        } catch (error) {
          this.onError(error);
        }
      }
    }
    if (rows.length === EVENT_PAGE) {
      this.dirty = true;
      this.changed();
      return;
    }
    if (rows.length > 0) this.idleMs = this.poll.minPollMs;
    else this.idleMs = Math.min(this.idleMs * 2, this.poll.maxPollMs);
    this.scheduleIn(this.idleMs);
  }
}
