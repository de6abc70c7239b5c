import { hostname } from "node:os";
import type { Cache } from "./contracts/cache.js";
import type { Logger } from "./contracts/task.js";
import type { Worker } from "./worker.js";

/** A worker as it reports itself in its heartbeat, visible from every process sharing the cache. */
export interface WorkerInfo {
  /** The worker id (also stored on the jobs it holds). */
  id: string;
  /** Host name of the machine it runs on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** Queues it consumes. */
  queues: string[];
  /** Jobs it runs at once at most, now (it changes when the worker autoscales). */
  concurrency: number;
  /** The range its concurrency autoscales in; absent for a fixed concurrency. */
  autoscale?: { min: number; max: number };
  /** Jobs it was running at its last heartbeat. */
  active: number;
  /** Jobs it had started by its last heartbeat. */
  processed?: number;
  /** Epoch ms when it started. */
  startedAt: number;
  /** Epoch ms of its last heartbeat. */
  lastHeartbeatAt: number;
  /** Epoch ms after which it counts as dead unless another heartbeat arrives. */
  expiresAt: number;
}

/**
 * Where workers report themselves. Each worker calls `beat` on an interval; a worker whose
 * heartbeat is older than its `expiresAt` is gone from `list`, so a killed worker disappears on
 * its own.
 */
export interface WorkerRegistry {
  /** Stores or refreshes one worker's heartbeat. */
  beat(info: WorkerInfo): Promise<void>;
  /** Forgets a worker at once (a clean shutdown). */
  remove(id: string): Promise<void>;
  /** Workers with an unexpired heartbeat, sorted by id. */
  list(): Promise<WorkerInfo[]>;
}

/** Options of {@link createCacheWorkerRegistry}. */
export interface CacheWorkerRegistryOptions {
  /** Prefix of the cache keys it writes. @defaultValue "conveyor:workers:" */
  keyPrefix?: string;
}

/**
 * A {@link WorkerRegistry} kept in a {@link Cache}: one entry per worker with a TTL, plus an
 * index entry mapping ids to expiry times (the Cache contract cannot list keys). The index is
 * read, pruned and written back by each heartbeat; a heartbeat checks that its id landed and
 * writes again (up to 4 tries) when a concurrent one overwrote it, so `list` is exact about dead
 * workers and misses a live one only while heartbeats keep colliding.
 *
 * @example
 * ```ts
 * import { createCacheWorkerRegistry, type Cache } from "@conveyor/core";
 *
 * async function show(cache: Cache) {
 *   const registry = createCacheWorkerRegistry(cache);
 *   for (const worker of await registry.list()) console.log(worker.id, worker.active);
 * }
 * ```
 */
export function createCacheWorkerRegistry(
  cache: Cache,
  options: CacheWorkerRegistryOptions = {},
): WorkerRegistry {
  const prefix = options.keyPrefix ?? "conveyor:workers:";
  const indexKey = `${prefix}index`;
  const entryKey = (id: string) => `${prefix}w:${id}`;

  const readIndex = async (now: number): Promise<Record<string, number>> => {
    const index = await cache.get<Record<string, number>>(indexKey);
    const live: Record<string, number> = {};
    if (index && typeof index === "object") {
      for (const [id, expiresAt] of Object.entries(index)) if (expiresAt > now) live[id] = expiresAt;
    }
    return live;
  };
  const writeIndex = async (index: Record<string, number>, now: number) => {
    const last = Math.max(0, ...Object.values(index));
    if (last <= now) await cache.delete(indexKey);
    else await cache.set(indexKey, index, { ttlMs: last - now });
  };

  return {
    async beat(info) {
      const now = Date.now();
      const ttlMs = Math.max(1, info.expiresAt - now);
      await cache.set(entryKey(info.id), info, { ttlMs });
      // Workers started together beat in phase, so one's index write can keep overwriting the
      // other's: check that the id landed and write again after a random pause (a few tries).
      for (let attempt = 0; attempt < 4; attempt++) {
        const index = await readIndex(now);
        index[info.id] = info.expiresAt;
        await writeIndex(index, now);
        const written = await cache.get<Record<string, number>>(indexKey);
        if (written?.[info.id] === info.expiresAt) return;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    },
    async remove(id) {
      await cache.delete(entryKey(id));
      const now = Date.now();
      const index = await readIndex(now);
      if (id in index) {
        delete index[id];
        await writeIndex(index, now);
      }
    },
    async list() {
      const now = Date.now();
      const ids = Object.keys(await readIndex(now)).sort();
      if (ids.length === 0) return [];
      const entries = await cache.getMany<WorkerInfo>(ids.map(entryKey));
      return entries.filter((w): w is WorkerInfo => w !== undefined && w.expiresAt > now);
    },
  };
}

/** How often workers report themselves, and when a silent one counts as dead. */
export interface HeartbeatOptions {
  /** Time between two heartbeats of a worker. @defaultValue 5_000 */
  intervalMs?: number;
  /** A worker without a heartbeat for this long is gone from the list. @defaultValue 3 × intervalMs */
  ttlMs?: number;
}

/** What a heartbeat reads from a running worker (a {@link Worker} fits it). */
export interface HeartbeatSubject {
  readonly id: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly active: number;
  readonly autoscale?: { readonly min: number; readonly max: number } | undefined;
  readonly processed?: number;
}

/**
 * Starts a worker's heartbeat: one at once, then every `intervalMs` (the timer does not keep the
 * process alive). Returns a function that stops it and removes the worker from the registry.
 * A failed heartbeat is logged, never thrown: losing the registry must not stop the work.
 */
export function startHeartbeat(
  registry: WorkerRegistry,
  worker: HeartbeatSubject,
  options: HeartbeatOptions & { log: Logger },
): () => Promise<void> {
  const intervalMs = options.intervalMs ?? 5_000;
  const ttlMs = options.ttlMs ?? intervalMs * 3;
  const startedAt = Date.now();
  const host = hostname();
  let warned = false;
  let stopped = false;
  let last: Promise<void> = Promise.resolve();
  const beat = () => {
    if (stopped) return;
    const now = Date.now();
    last = registry
      .beat({
        id: worker.id,
        host,
        pid: process.pid,
        queues: [...worker.queues],
        concurrency: worker.concurrency,
        ...(worker.autoscale ? { autoscale: { min: worker.autoscale.min, max: worker.autoscale.max } } : {}),
        active: worker.active,
        ...(worker.processed !== undefined ? { processed: worker.processed } : {}),
        startedAt,
        lastHeartbeatAt: now,
        expiresAt: now + ttlMs,
      })
      .then(
        () => {
          warned = false;
        },
        (error: unknown) => {
          if (!warned)
            options.log.warn("worker heartbeat failed", { worker: worker.id, error: String(error) });
          warned = true;
        },
      );
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await last;
    await registry.remove(worker.id).catch((error: unknown) => {
      options.log.warn("worker heartbeat could not be removed; it expires by itself", {
        worker: worker.id,
        error: String(error),
      });
    });
  };
}
