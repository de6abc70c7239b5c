import { describe, expect, it } from "vitest";
import type { Cache, CacheEntry, CacheSetOptions, CacheStats } from "../src/contracts/cache.js";
import type { Logger } from "../src/contracts/task.js";
import { BackendUnavailableError, ValidationError } from "../src/errors.js";
import { createTieredCache, splitCacheUrls } from "../src/tiered-cache.js";

/**
 * A minimal map cache, real enough to hold values with TTLs; `down = true` makes every call fail
 * the way an unreachable backend does, `hang = true` makes calls never settle.
 */
class MapCache implements Cache {
  down = false;
  hang = false;
  calls = 0;
  closed = false;
  readonly entries = new Map<string, { value: unknown; expiresAt: number | undefined }>();
  constructor(readonly name: string) {}

  private check(): Promise<void> | undefined {
    this.calls++;
    if (this.hang) return new Promise<void>(() => {});
    if (this.down) throw new BackendUnavailableError(this.name, "connect ECONNREFUSED 127.0.0.1:6379");
    return undefined;
  }

  private live(key: string) {
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async get<T>(key: string): Promise<T | undefined> {
    await this.check();
    return structuredClone(this.live(key)?.value) as T | undefined;
  }
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    await this.check();
    return keys.map((key) => structuredClone(this.live(key)?.value) as T | undefined);
  }
  async set<T>(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    await this.check();
    if (value === undefined)
      throw new ValidationError("the cache value", [{ path: "", message: "undefined" }]);
    const expiresAt = options.ttlMs === undefined ? undefined : Date.now() + options.ttlMs;
    this.entries.set(key, { value: structuredClone(value), expiresAt });
  }
  async setMany<T>(entries: readonly CacheEntry<T>[]): Promise<void> {
    for (const entry of entries) await this.set(entry.key, entry.value, { ttlMs: entry.ttlMs });
  }
  async has(key: string): Promise<boolean> {
    await this.check();
    return this.live(key) !== undefined;
  }
  async delete(key: string): Promise<boolean> {
    await this.check();
    return this.entries.delete(key);
  }
  async clear(): Promise<void> {
    await this.check();
    this.entries.clear();
  }
  async stats(): Promise<CacheStats> {
    await this.check();
    return {
      name: this.name,
      hits: 0,
      misses: 0,
      sets: 0,
      deletes: 0,
      evictions: 0,
      errors: 0,
      size: this.entries.size,
    };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function recordingLogger() {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines, at: (level: string) => lines.filter((l) => l.level === level) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function threeTiers() {
  const memory = new MapCache("memory");
  const redis = new MapCache("redis");
  const disk = new MapCache("disk");
  return { memory, redis, disk };
}

describe("createTieredCache", () => {
  it("writes to every tier; reads fall through and back-fill the faster tiers", async () => {
    const { memory, redis, disk } = threeTiers();
    const cache = createTieredCache([memory, redis, disk]);
    await cache.set("a", { n: 1 });
    expect([memory, redis, disk].map((t) => t.entries.has("a"))).toEqual([true, true, true]);

    await disk.set("b", "only on disk");
    expect(await cache.get("b")).toBe("only on disk");
    expect(memory.entries.get("b")?.value).toBe("only on disk");
    expect(redis.entries.get("b")?.value).toBe("only on disk");
    // Back-filled copies expire: the contract cannot say how long the disk entry has left.
    expect(memory.entries.get("b")?.expiresAt).toBeGreaterThan(Date.now());

    const stats = await cache.stats();
    expect(stats).toMatchObject({ name: "tiered", hits: 1, misses: 0, sets: 1 });
    expect(stats.tiers.map((t) => [t.name, t.hits, t.misses, t.healthy])).toEqual([
      ["memory", 0, 1, true],
      ["redis", 0, 1, true],
      ["disk", 1, 0, true],
    ]);
    expect(stats.tiers[0]?.size).toBe(2);
  });

  it("getMany asks each tier only for what is still missing, in order", async () => {
    const { memory, redis, disk } = threeTiers();
    const cache = createTieredCache([memory, redis, disk]);
    await memory.set("m", 1);
    await redis.set("r", 2);
    await disk.set("d", 3);
    expect(await cache.getMany(["d", "nope", "m", "r"])).toEqual([3, undefined, 1, 2]);
    expect(memory.entries.has("d") && memory.entries.has("r") && redis.entries.has("d")).toBe(true);
    expect(await cache.stats()).toMatchObject({ hits: 3, misses: 1 });
  });

  it("a back-fill never outlives the TTL the value was written with", async () => {
    const { memory, disk } = threeTiers();
    const cache = createTieredCache([memory, disk], { backfillTtlMs: 60_000 });
    await cache.set("short", "v", { ttlMs: 150 });
    memory.entries.delete("short"); // evicted from the fast tier
    expect(await cache.get("short")).toBe("v");
    expect(memory.entries.get("short")!.expiresAt! - Date.now()).toBeLessThanOrEqual(150);
    await sleep(200);
    expect(await cache.get("short")).toBeUndefined();
  });

  it("skips a failing tier with one warning, never failing the caller, and reports it in stats", async () => {
    const { memory, redis, disk } = threeTiers();
    const { log, at } = recordingLogger();
    const cache = createTieredCache([memory, redis, disk], { log, retryMinMs: 10_000 });
    await cache.set("k", "v1");
    redis.down = true;
    memory.entries.clear();

    expect(await cache.get("k")).toBe("v1"); // from disk
    await cache.set("k2", "v2");
    expect(await cache.get("k2")).toBe("v2");
    expect(await cache.getMany(["k", "k2"])).toEqual(["v1", "v2"]);
    expect(await cache.delete("k2")).toBe(true);
    expect(at("warn")).toHaveLength(1);
    expect(at("warn")[0]?.message).toMatch(/the redis tier \(2 of 3\).*failed; skipping it/);

    const callsWhileSkipped = redis.calls;
    await cache.get("k");
    expect(redis.calls).toBe(callsWhileSkipped); // skipped, not asked and failed again

    const stats = await cache.stats();
    const redisStats = stats.tiers[1]!;
    expect(redisStats).toMatchObject({ name: "redis", healthy: false, errors: 1 });
    expect(redisStats.lastError).toMatch(/ECONNREFUSED/);
    expect(redisStats.retryInMs).toBeGreaterThan(0);
    expect(stats.tiers[2]).toMatchObject({ name: "disk", healthy: true });
  });

  it("tries a failing tier again with backoff, and deletes what changed meanwhile before using it", async () => {
    const { memory, redis, disk } = threeTiers();
    const { log, at } = recordingLogger();
    const cache = createTieredCache([memory, redis, disk], { log, retryMinMs: 30, retryMaxMs: 1_000 });
    await cache.set("k", "old");
    redis.down = true;
    await cache.set("k", "new"); // redis still holds "old" and misses this write
    await cache.get("k");
    expect(at("warn")).toHaveLength(1);

    await sleep(40);
    memory.entries.clear();
    await cache.get("k"); // the retry is due: it fails again, the wait doubles
    const afterFirstRetry = (await cache.stats()).tiers[1]!;
    expect(afterFirstRetry.healthy).toBe(false);
    expect(afterFirstRetry.retryInMs).toBeGreaterThan(30);

    redis.down = false;
    await sleep(70);
    memory.entries.clear();
    expect(await cache.get("k")).toBe("new");
    // The stale "old" was deleted before Redis was asked, so disk answered and back-filled it.
    expect(redis.entries.get("k")?.value).toBe("new");
    expect(at("info").map((l) => l.message)).toEqual([expect.stringMatching(/redis tier.*answers again/)]);
    expect((await cache.stats()).tiers[1]).toMatchObject({ healthy: true });

    await cache.set("k3", "x");
    expect(redis.entries.get("k3")?.value).toBe("x");
  });

  it("clears a tier that missed a clear() before using it again", async () => {
    const { memory, redis } = threeTiers();
    const cache = createTieredCache([memory, redis], { retryMinMs: 10 });
    await cache.set("a", 1);
    redis.down = true;
    await cache.clear();
    redis.down = false;
    await sleep(20);
    expect(await cache.get("a")).toBeUndefined();
    expect(redis.entries.size).toBe(0);
  });

  it("fails only when no tier answers, with a BackendUnavailableError naming each tier", async () => {
    const { memory, disk } = threeTiers();
    const cache = createTieredCache([memory, disk], { retryMinMs: 10_000 });
    memory.down = true;
    disk.down = true;
    const error = await cache.get("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/every tier of the tiered cache.*memory: .*ECONNREFUSED.*disk:/);
    await expect(cache.set("x", 1)).rejects.toBeInstanceOf(BackendUnavailableError);
    // stats answer while everything is down.
    expect((await cache.stats()).tiers.every((t) => !t.healthy)).toBe(true);
  });

  it("throws the caller's mistakes as the tiers do, without marking a tier unhealthy", async () => {
    const { memory, disk } = threeTiers();
    const cache = createTieredCache([memory, disk]);
    await expect(cache.set("u", undefined)).rejects.toBeInstanceOf(ValidationError);
    expect((await cache.stats()).tiers.every((t) => t.healthy && t.errors === 0)).toBe(true);
  });

  it("counts a tier that stops answering as failed after timeoutMs", async () => {
    const { memory, redis, disk } = threeTiers();
    const cache = createTieredCache([memory, redis, disk], { timeoutMs: 50, retryMinMs: 10_000 });
    await disk.set("k", "v");
    redis.hang = true;
    const started = Date.now();
    expect(await cache.get("k")).toBe("v");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await cache.stats()).tiers[1]).toMatchObject({ healthy: false });
    expect((await cache.stats()).tiers[1]?.lastError).toMatch(/no answer within 50 ms/);
  });

  it("close closes every tier; calls after close throw", async () => {
    const { memory, disk } = threeTiers();
    const cache = createTieredCache([memory, disk]);
    await cache.close();
    expect(memory.closed && disk.closed).toBe(true);
    await expect(cache.get("a")).rejects.toThrow(/closed/);
  });

  it("refuses an empty tier list and bad options", () => {
    expect(() => createTieredCache([])).toThrow(/at least one tier/);
    expect(() => createTieredCache([new MapCache("m")], { retryMinMs: -1 })).toThrow(/retryMinMs/);
  });
});

describe("splitCacheUrls", () => {
  it("splits on commas that start a new URL only", () => {
    expect(splitCacheUrls("memory://?max=10000,redis://:pw@localhost:6379/0, disk://./.conveyor")).toEqual([
      "memory://?max=10000",
      "redis://:pw@localhost:6379/0",
      "disk://./.conveyor",
    ]);
    expect(splitCacheUrls("redis://:pw@mymaster/0?sentinels=h1:26379,h2:26379,disk:///var/cache")).toEqual([
      "redis://:pw@mymaster/0?sentinels=h1:26379,h2:26379",
      "disk:///var/cache",
    ]);
    expect(splitCacheUrls("memory://")).toEqual(["memory://"]);
  });
});
