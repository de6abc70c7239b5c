import type { JobEventListener } from "@conveyor/core";
import type { RedisClient } from "redis";
import { toEvent } from "./record.js";

interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
}

/** Escapes the glob characters of a Redis PSUBSCRIBE pattern. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

/**
 * One subscriber connection per adapter: it listens to the Bee-Queue `events` channel of every
 * queue under the prefix (one pattern) for lifecycle events, and to Conveyor's cancel channel
 * for cancel notices. The `redis` client subscribes again by itself after a reconnection.
 */
export class Subscriber {
  private readonly subscriptions = new Set<Subscription>();
  private readonly cancelListeners = new Set<(id: string) => void>();
  private ready: Promise<void> | undefined;
  private client: RedisClient | undefined;

  constructor(
    /** `"<prefix>:"` */
    private readonly bq: string,
    /** The cancel channel. */
    private readonly cancelChannel: string,
    private readonly connect: () => RedisClient,
    private readonly onError: (error: unknown) => void,
  ) {}

  private open(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const client = this.connect();
      this.client = client;
      const suffix = ":events";
      client.on("pmessage", (_pattern: string, channel: string, message: string) => {
        if (this.subscriptions.size === 0) return;
        const queue = channel.slice(this.bq.length, -suffix.length);
        const event = toEvent(queue, message);
        if (event === undefined) return;
        for (const s of this.subscriptions) {
          if (s.queue !== undefined && s.queue !== event.queue) continue;
          if (s.jobId !== undefined && s.jobId !== event.jobId) continue;
          try {
            s.listener(event);
          } catch (error) {
            this.onError(error);
          }
        }
      });
      client.on("message", (channel: string, id: string) => {
        if (channel !== this.cancelChannel) return;
        for (const listener of this.cancelListeners) listener(id);
      });
      let pending = 2;
      const done = (error: Error | null) => {
        if (error) reject(error);
        else if (--pending === 0) resolve();
      };
      client.psubscribe(`${escapeGlob(this.bq)}*${suffix}`, done);
      client.subscribe(this.cancelChannel, done);
    });
    return this.ready;
  }

  /** Adds a lifecycle-event listener; resolves once listening. */
  async subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }) {
    await this.open();
    const subscription: Subscription = { listener, queue: filter.queue, jobId: filter.jobId };
    this.subscriptions.add(subscription);
    return async () => {
      this.subscriptions.delete(subscription);
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
