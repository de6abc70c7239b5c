import { randomUUID } from "node:crypto";
import type { JobEvent, JobEventListener } from "@conveyor/core";
import { type ConnectionOptions, QueueEvents } from "bullmq";
import type { RedisOptions } from "ioredis";
import { toEvent } from "./record.js";

/** Names of the BullMQ stream entries that become Conveyor events (see `toEvent`). */
const EVENT_NAMES = [
  "added",
  "waiting",
  "progress",
  "completed",
  "removed",
  "stalled",
  "cv:active",
  "cv:failed",
  "cv:retrying",
  "cv:delayed",
  "cv:cancelled",
] as const;

interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
  /** Server time (ms) when it subscribed: it sees only entries from then on. */
  readonly fromMs: number;
}

/** What the hub needs from its adapter. */
export interface EventHubContext {
  readonly prefix: string;
  readonly connection: RedisOptions;
  /** Every queue the adapter's prefix knows. */
  knownQueues(): Promise<string[]>;
  /** The queue of a job id, when the job exists. */
  queueOf(id: string): Promise<string | undefined>;
  /** Redis server time in ms (stream ids are server times). */
  serverTimeMs(): Promise<number>;
  /** Registers `member` in the prefix's `cv:listeners` for LISTENER_TTL_MS and tells the workers. */
  listen(member: string): Promise<unknown>;
  /** Withdraws the registration of `member`. */
  unlisten(member: string): Promise<unknown>;
  onError(error: unknown): void;
}

/**
 * How long a hub's registration in the prefix's `cv:listeners` holds without renewal; it is
 * renewed every quarter of that while the hub has subscriptions. Workers write a job's
 * `cv:active` event only while some registration holds, so a prefix nobody watches pays nothing
 * for it, and a process that dies stops costing it after this long.
 */
export const LISTENER_TTL_MS = 60_000;

const streamMs = (id: string): number => Number(id.slice(0, id.indexOf("-")));

/**
 * Reads BullMQ's per-queue event streams with one `QueueEvents` per queue (one blocking
 * connection each, started on first need and kept until the adapter closes) and hands the
 * Conveyor events to the subscriptions that match.
 */
export class EventHub {
  private readonly readers = new Map<string, QueueEvents>();
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;
  private readonly member = randomUUID();
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: EventHubContext) {}

  async subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }) {
    // Registered before the start time is read: every event after it is written.
    if (this.renewal === undefined) {
      await this.ctx.listen(this.member);
      this.renewal ??= setInterval(() => {
        this.ctx.listen(this.member).catch((error) => this.ctx.onError(error));
      }, LISTENER_TTL_MS / 4);
      this.renewal.unref();
    }
    const fromMs = await this.ctx.serverTimeMs();
    const subscription: Subscription = { listener, queue: filter.queue, jobId: filter.jobId, fromMs };
    let queues: string[];
    if (filter.queue !== undefined) queues = [filter.queue];
    else {
      const known = filter.jobId !== undefined ? await this.ctx.queueOf(filter.jobId) : undefined;
      queues = known !== undefined ? [known] : await this.ctx.knownQueues();
      // A subscription over every queue also follows queues created after it (see queueCreated).
      if (known === undefined) this.wantsAll.add(subscription);
    }
    this.subscriptions.add(subscription);
    await Promise.all(queues.map((queue) => this.reader(queue, fromMs)));
    return async () => {
      this.subscriptions.delete(subscription);
      this.wantsAll.delete(subscription);
      if (this.subscriptions.size === 0 && this.renewal !== undefined && !this.closed) {
        this.stopRenewal();
        await this.ctx.unlisten(this.member).catch((error) => this.ctx.onError(error));
      }
    };
  }

  private readonly wantsAll = new Set<Subscription>();

  /** Told when a queue appears in the prefix: subscriptions over every queue start reading it. */
  queueCreated(queue: string, atMs: number): void {
    if (this.wantsAll.size === 0 || this.readers.has(queue)) return;
    let from = atMs;
    for (const s of this.wantsAll) from = Math.min(from, s.fromMs);
    void this.reader(queue, from).catch((error) => this.ctx.onError(error));
  }

  private async reader(queue: string, fromMs: number): Promise<void> {
    if (this.closed || this.readers.has(queue)) return;
    const events = new QueueEvents(queue, {
      connection: this.ctx.connection as ConnectionOptions,
      prefix: this.ctx.prefix,
      lastEventId: `${fromMs}-0`,
      autorun: true,
    });
    this.readers.set(queue, events);
    // A lost connection is retried by ioredis; the reader resumes from the last id it read.
    events.on("error", (error) => this.ctx.onError(error));
    for (const name of EVENT_NAMES) {
      events.on(
        name as never,
        ((args: Record<string, unknown>, id: string) => this.deliver(queue, name, args, id)) as never,
      );
    }
    await events.waitUntilReady();
  }

  private deliver(queue: string, name: string, args: Record<string, unknown>, id: string): void {
    if (this.subscriptions.size === 0) return;
    let event: JobEvent | undefined | null = null;
    const ms = streamMs(id);
    for (const s of this.subscriptions) {
      if (ms < s.fromMs) continue;
      if (s.queue !== undefined && s.queue !== queue) continue;
      if (s.jobId !== undefined && s.jobId !== args.jobId) continue;
      if (event === null) event = toEvent(queue, id, args, name);
      if (event === undefined) return;
      try {
        s.listener(event);
      } catch (error) {
        this.ctx.onError(error);
      }
    }
  }

  /** Renews the registration at once if it is held (the connection is back after an outage). */
  renewNow(): void {
    if (this.renewal === undefined || this.closed) return;
    this.ctx.listen(this.member).catch((error) => this.ctx.onError(error));
  }

  private stopRenewal(): void {
    clearInterval(this.renewal);
    this.renewal = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.renewal !== undefined) {
      this.stopRenewal();
      await this.ctx.unlisten(this.member).catch(() => undefined);
    }
    this.subscriptions.clear();
    this.wantsAll.clear();
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map((events) => events.close().catch(() => undefined)));
  }
}
