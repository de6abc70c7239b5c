import type { JobEventListener } from "@conveyor/core";
import type { Cluster, Redis } from "ioredis";
import { backoffMs } from "../connection.js";
import { compareStreamIds, toEvent } from "./record.js";

interface Subscription {
  readonly listener: JobEventListener;
  readonly queue: string | undefined;
  readonly jobId: string | undefined;
  /** Id of the last event before it subscribed; it sees only later ones. */
  readonly from: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads the prefix's event stream for every subscriber of one adapter, on one dedicated
 * connection (XREAD BLOCK), resuming from the last id read after a lost connection.
 */
export class EventReader {
  private readonly subscriptions = new Set<Subscription>();
  private lastId = "0-0";
  private running = false;
  private closed = false;

  constructor(
    private readonly key: string,
    /** Answers the current last id of the stream (on the shared command connection). */
    private readonly lastIdNow: () => Promise<string>,
    private readonly connect: () => Redis | Cluster,
    private readonly onError: (error: unknown) => void,
  ) {}

  private client: Redis | Cluster | undefined;

  async subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }) {
    const from = await this.lastIdNow();
    const subscription: Subscription = { listener, queue: filter.queue, jobId: filter.jobId, from };
    this.subscriptions.add(subscription);
    if (!this.running) {
      this.running = true;
      this.lastId = from;
      void this.loop();
    }
    return async () => {
      this.subscriptions.delete(subscription);
    };
  }

  private async loop(): Promise<void> {
    this.client = this.connect();
    let failures = 0;
    while (!this.closed) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.client.xread("COUNT", 1000, "BLOCK", 0, "STREAMS", this.key, this.lastId)) as
          | [string, [string, string[]][]][]
          | null;
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        failures++;
        if (failures === 1) this.onError(error);
        await sleep(backoffMs(failures));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.lastId = id;
          if (this.subscriptions.size === 0) continue;
          const event = toEvent(fields);
          for (const s of this.subscriptions) {
            if (compareStreamIds(id, s.from) <= 0) continue;
            if (s.queue !== undefined && s.queue !== event.queue) continue;
            if (s.jobId !== undefined && s.jobId !== event.jobId) continue;
            try {
              s.listener(event);
            } catch (error) {
              this.onError(error);
            }
          }
        }
      }
    }
  }

  close(): void {
    this.closed = true;
    this.subscriptions.clear();
    this.client?.disconnect();
  }
}
