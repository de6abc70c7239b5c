import type { Cache } from "./contracts/cache.js";
import type { Logger } from "./contracts/task.js";
import type { TieredCache } from "./tiered-cache.js";

/**
 * A remote-control command for one worker (`conveyor control shutdown`, `conveyor ping`).
 * `shutdown` closes the worker gracefully: it stops claiming and lets running jobs finish.
 * `ping` asks for a reply, which proves the worker's loop is alive (not only its heartbeat).
 */
export type WorkerCommandName = "shutdown" | "ping";

/** A command as stored in a worker's mailbox. */
export interface WorkerCommand {
  /** What to do. */
  command: WorkerCommandName;
  /** A caller-chosen id; a `ping` reply carries it back. */
  nonce: string;
  /** Epoch ms when it was sent. */
  sentAt: number;
}

/** A worker's answer to a `ping`. */
export interface WorkerReply {
  /** The worker that answered. */
  workerId: string;
  /** The nonce of the ping it answers. */
  nonce: string;
  /** Epoch ms when the worker read the ping. */
  repliedAt: number;
}

/**
 * Mailboxes for worker commands. The Cache contract has no pub/sub, so a worker reads its
 * mailbox on an interval (its heartbeat interval): a command takes up to one interval to land.
 */
export interface WorkerControl {
  /** Puts a command in a worker's mailbox; it expires after `ttlMs` if no worker reads it. */
  send(workerId: string, command: WorkerCommand, ttlMs: number): Promise<void>;
  /** Reads and empties a worker's mailbox (the worker side). */
  take(workerId: string): Promise<WorkerCommand[]>;
  /** Stores a worker's reply to a ping. */
  reply(reply: WorkerReply, ttlMs: number): Promise<void>;
  /** Replies to the ping `nonce` from these workers, in their order (`undefined`: none yet). */
  replies(nonce: string, workerIds: readonly string[]): Promise<(WorkerReply | undefined)[]>;
}

/** Options of {@link createCacheWorkerControl}. */
export interface CacheWorkerControlOptions {
  /** Prefix of the cache keys it writes. @defaultValue "conveyor:control:" */
  keyPrefix?: string;
}

const COMMANDS: readonly WorkerCommandName[] = ["shutdown", "ping"];

/**
 * A {@link WorkerControl} kept in a {@link Cache}: one key per worker and command (so a ping
 * never overwrites a pending shutdown), one key per ping reply. On a tiered cache it uses only the
 * tiers every process shares (`TieredCache.shared()`).
 *
 * @example
 * ```ts
 * import { createCacheWorkerControl, type Cache } from "@conveyor/core";
 *
 * async function stop(cache: Cache, workerId: string) {
 *   const control = createCacheWorkerControl(cache);
 *   await control.send(workerId, { command: "shutdown", nonce: "n1", sentAt: Date.now() }, 60_000);
 * }
 * ```
 */
export function createCacheWorkerControl(
  given: Cache,
  options: CacheWorkerControlOptions = {},
): WorkerControl {
  // Commands and replies cross processes: a tiered cache's process-local tiers would only hold
  // this process's copy, so they go through the tiers every process shares.
  const cache = (given as Partial<TieredCache>).shared?.call(given) ?? given;
  const prefix = options.keyPrefix ?? "conveyor:control:";
  const commandKey = (id: string, command: WorkerCommandName) => `${prefix}w:${id}:${command}`;
  const replyKey = (nonce: string, id: string) => `${prefix}reply:${nonce}:${id}`;
  return {
    async send(workerId, command, ttlMs) {
      await cache.set(commandKey(workerId, command.command), command, { ttlMs: Math.max(1, ttlMs) });
    },
    async take(workerId) {
      const keys = COMMANDS.map((command) => commandKey(workerId, command));
      const found = await cache.getMany<WorkerCommand>(keys);
      const commands: WorkerCommand[] = [];
      for (const [index, command] of found.entries()) {
        if (!command) continue;
        // Deleted before it is acted on: a slow worker must not run one shutdown twice.
        await cache.delete(keys[index]!);
        commands.push(command);
      }
      return commands;
    },
    async reply(reply, ttlMs) {
      await cache.set(replyKey(reply.nonce, reply.workerId), reply, { ttlMs: Math.max(1, ttlMs) });
    },
    replies(nonce, workerIds) {
      return cache.getMany<WorkerReply>(workerIds.map((id) => replyKey(nonce, id)));
    },
  };
}

/** Options of {@link watchWorkerControl}. */
export interface WatchWorkerControlOptions {
  /** Time between two reads of the mailbox. @defaultValue 5_000 */
  intervalMs?: number;
  /** Where a failed read is reported (once per outage). */
  log: Logger;
  /** Called for a `shutdown` command. */
  onShutdown(command: WorkerCommand): void;
}

/**
 * Reads a worker's mailbox every `intervalMs` (the timer does not keep the process alive),
 * answers pings and hands shutdowns to `onShutdown`. Returns a function that stops it.
 * A failed read is logged, never thrown: losing the cache must not stop the work.
 */
export function watchWorkerControl(
  control: WorkerControl,
  workerId: string,
  options: WatchWorkerControlOptions,
): () => void {
  const intervalMs = options.intervalMs ?? 5_000;
  let busy = false;
  let warned = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const command of await control.take(workerId)) {
        if (command.command === "ping")
          await control.reply(
            { workerId, nonce: command.nonce, repliedAt: Date.now() },
            Math.max(60_000, intervalMs * 3),
          );
        else if (command.command === "shutdown") options.onShutdown(command);
      }
      warned = false;
    } catch (error) {
      if (!warned)
        options.log.warn("worker control mailbox could not be read", {
          worker: workerId,
          error: String(error),
        });
      warned = true;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
