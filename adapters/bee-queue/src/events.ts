import type { JobEventListener } from "@conveyor/core";
import type { RedisClient } from "redis";
import { toEvents } from "./record.js";

interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
}

const SUFFIX = ":events";

/** Escapes the glob characters of a Redis PSUBSCRIBE pattern. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

/**
 * One subscriber connection per adapter: it listens to Conveyor's cancel channel for cancel
 * notices and, while someone subscribed, to the Bee-Queue `events` channel of every queue under
 * the prefix (one pattern) for lifecycle events — a worker alone is not sent every job's events.
 * The `redis` client subscribes again by itself after a reconnection.
 */
export class Subscriber {
  private readonly subscriptions = new Set<Subscription>();
  private readonly cancelListeners = new Set<(id: string) => void>();
  private ready: Promise<void> | undefined;
  /** Set while the events pattern is subscribed (or being subscribed). */
  private listening: Promise<void> | undefined;
  private client: RedisClient | undefined;

  constructor(
    /** `"<prefix>:"` */
    private readonly bq: string,
    /** The cancel channel. */
    private readonly cancelChannel: string,
    private readonly connect: () => RedisClient,
    private readonly onError: (error: unknown) => void,
  ) {}

  private get pattern(): string {
    return `${escapeGlob(this.bq)}*${SUFFIX}`;
  }

  private open(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const client = this.connect();
      this.client = client;
      client.on("pmessage", (_pattern: string, channel: string, message: string) => {
        if (this.subscriptions.size === 0) return;
        const queue = channel.slice(this.bq.length, -SUFFIX.length);
        for (const event of toEvents(queue, message)) {
          for (const s of this.subscriptions) {
            if (s.queue !== undefined && s.queue !== event.queue) continue;
            if (s.jobId !== undefined && s.jobId !== event.jobId) continue;
            try {
              s.listener(event);
            } catch (error) {
              this.onError(error);
            }
          }
        }
      });
      client.on("message", (channel: string, id: string) => {
        if (channel !== this.cancelChannel) return;
        for (const listener of this.cancelListeners) listener(id);
      });
      client.subscribe(this.cancelChannel, (error: Error | null) => (error ? reject(error) : resolve()));
    });
    return this.ready;
  }

  /** Subscribes the events pattern once (the first listener). */
  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const listening = this.open().then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.client!.psubscribe(this.pattern, (error: Error | null) => (error ? reject(error) : resolve()));
        }),
    );
    this.listening = listening;
    listening.catch(() => {
      if (this.listening === listening) this.listening = undefined;
    });
    return listening;
  }

  /** Adds a lifecycle-event listener; resolves once listening. */
  async subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }) {
    const subscription: Subscription = { listener, queue: filter.queue, jobId: filter.jobId };
    this.subscriptions.add(subscription);
    try {
      await this.listen();
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error;
    }
    return async () => {
      if (!this.subscriptions.delete(subscription) || this.subscriptions.size > 0) return;
      // The last listener left: stop receiving every job's events.
      this.listening = undefined;
      this.client?.punsubscribe(this.pattern);
    };
  }

  /** Adds a cancel-notice listener; resolves once listening. */
  async onCancel(listener: (id: string) => void): Promise<void> {
    this.cancelListeners.add(listener);
    await this.open();
  }

  close(): void {
    this.subscriptions.clear();
    this.cancelListeners.clear();
    this.client?.end(true);
  }
}
