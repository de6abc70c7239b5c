import { randomUUID } from "node:crypto";
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
 * How long a reader's registration in the prefix's `listeners` set holds without renewal; it is
 * renewed every quarter of that while the reader has subscribers. Events are written only while
 * some registration holds, so a process that dies stops costing event writes after this long.
 */
export const LISTENER_TTL_MS = 60_000;

/** What a reader does on the shared command connection. */
export interface EventReaderCommands {
  /** Answers the current last id of the stream. */
  lastId(): Promise<string>;
  /** Registers `member` as listening until `deadline` (epoch ms) and drops expired registrations. */
  listen(member: string, deadline: number): Promise<unknown>;
  /** Withdraws the registration of `member`. */
  unlisten(member: string): Promise<unknown>;
}

/**
 * Reads the prefix's event stream for every subscriber of one adapter, on one dedicated
 * connection (XREAD BLOCK), resuming from the last id read after a lost connection. While it has
 * subscribers it keeps a registration in the prefix's `listeners` set: the scripts write events
 * only while one holds, so a prefix nobody watches pays nothing for them.
 */
export class EventReader {
  private readonly subscriptions = new Set<Subscription>();
  private readonly member = randomUUID();
  private lastId = "0-0";
  private running = false;
  private closed = false;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly key: string,
    private readonly commands: EventReaderCommands,
    private readonly connect: () => Redis | Cluster,
    private readonly onError: (error: unknown) => void,
  ) {}

  private client: Redis | Cluster | undefined;

  private listen(): Promise<unknown> {
    return this.commands.listen(this.member, Date.now() + LISTENER_TTL_MS);
  }

  async subscribe(listener: JobEventListener, filter: { queue?: string; jobId?: string }) {
    // Registered before the stream's last id is read: every event after that id is written.
    if (this.renewal === undefined) {
      await this.listen();
      this.renewal ??= setInterval(() => {
        this.listen().catch(this.onError);
      }, LISTENER_TTL_MS / 4);
      this.renewal.unref();
    }
    const from = await this.commands.lastId();
    const subscription: Subscription = { listener, queue: filter.queue, jobId: filter.jobId, from };
    this.subscriptions.add(subscription);
    if (!this.running) {
      this.running = true;
      this.lastId = from;
      void this.loop();
    }
    return async () => {
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0 && this.renewal !== undefined) {
        this.stopRenewal();
        await this.commands.unlisten(this.member).catch(this.onError);
      }
    };
  }

  private stopRenewal(): void {
    clearInterval(this.renewal);
    this.renewal = undefined;
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
        // Back after an outage: renew the registration at once (it may have run out meanwhile).
        if (this.renewal !== undefined) await this.listen().catch(() => {});
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

  /** Stops reading; the registration is withdrawn when `unlisten` is given a connection still open. */
  close(): Promise<unknown> | undefined {
    this.closed = true;
    const registered = this.renewal !== undefined;
    this.stopRenewal();
    this.subscriptions.clear();
    this.client?.disconnect();
    return registered ? this.commands.unlisten(this.member).catch(() => {}) : undefined;
  }
}
