import { ClosedError, ConfigError, ValidationError } from "@conveyor/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryCache } from "../src/index.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("memory cache", () => {
  it("evicts the least recently used entry; reads refresh recency", async () => {
    const cache = createMemoryCache({ maxEntries: 3 });
    await cache.set("a", 1);
    await cache.set("b", 2);
    await cache.set("c", 3);
    expect(await cache.get("a")).toBe(1); // a is now the most recent
    await cache.set("d", 4); // evicts b
    expect(await cache.has("b")).toBe(false);
    await cache.set("c", 33); // rewriting refreshes c
    await cache.set("e", 5); // evicts a
    expect(await cache.getMany(["a", "b", "c", "d", "e"])).toEqual([undefined, undefined, 33, 4, 5]);
    const stats = await cache.stats();
    expect(stats).toMatchObject({ name: "memory", evictions: 2, size: 3, sets: 6 });
    await cache.close();
  });

  it("expires entries by their TTL or the default TTL, with real time", async () => {
    const cache = createMemoryCache({ defaultTtlMs: 100 });
    await cache.set("default", "x");
    await cache.set("long", "y", { ttlMs: 10_000 });
    expect(await cache.get("default")).toBe("x");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await cache.get("default")).toBeUndefined();
    expect(await cache.has("default")).toBe(false);
    expect(await cache.get("long")).toBe("y");
    expect((await cache.stats()).size).toBe(1);
    await cache.close();
  });

  it("expires on the millisecond with fake timers", async () => {
    vi.useFakeTimers();
    const cache = createMemoryCache();
    await cache.set("ttl", 1, { ttlMs: 1_000 });
    vi.advanceTimersByTime(999);
    expect(await cache.has("ttl")).toBe(true);
    vi.advanceTimersByTime(1);
    expect(await cache.has("ttl")).toBe(false);
    await cache.close();
  });

  it("drops an expired least-recent entry instead of evicting a live one", async () => {
    vi.useFakeTimers();
    const cache = createMemoryCache({ maxEntries: 2 });
    await cache.set("short", 1, { ttlMs: 5 });
    await cache.set("keep", 2);
    vi.advanceTimersByTime(10);
    await cache.set("new", 3);
    expect((await cache.stats()).evictions).toBe(0);
    expect(await cache.getMany(["short", "keep", "new"])).toEqual([undefined, 2, 3]);
    await cache.close();
  });

  it("stores and returns deep copies", async () => {
    const cache = createMemoryCache();
    const value = { list: [1, 2], when: new Date(5) };
    await cache.set("v", value);
    value.list.push(3);
    const first = await cache.get<typeof value>("v");
    expect(first).toEqual({ list: [1, 2], when: new Date(5) });
    first?.list.push(4);
    expect(await cache.get("v")).toEqual({ list: [1, 2], when: new Date(5) });
    await cache.close();
  });

  it("refuses undefined and values it cannot copy", async () => {
    const cache = createMemoryCache();
    await expect(cache.set("u", undefined)).rejects.toBeInstanceOf(ValidationError);
    await expect(cache.set("f", { fn: () => 1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      cache.setMany([
        { key: "ok", value: 1 },
        { key: "bad", value: undefined },
      ]),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await cache.has("ok")).toBe(false);
    await expect(cache.set("t", 1, { ttlMs: 0 })).rejects.toBeInstanceOf(ValidationError);
    await cache.set("null", null);
    expect(await cache.get("null")).toBeNull();
    await cache.close();
  });

  it("keeps namespaces apart in a shared store; clear removes only its own", async () => {
    const a = createMemoryCache({ store: "ns-store", namespace: "a" });
    const b = createMemoryCache({ store: "ns-store", namespace: "b" });
    const a2 = createMemoryCache({ store: "ns-store", namespace: "a" });
    await a.set("k", "from a");
    await b.set("k", "from b");
    expect(await a2.get("k")).toBe("from a");
    await a.clear();
    expect(await a2.get("k")).toBeUndefined();
    expect(await b.get("k")).toBe("from b");
    await Promise.all([a.close(), b.close(), a2.close()]);
  });

  it("counts hits, misses, sets and deletes", async () => {
    const cache = createMemoryCache();
    await cache.setMany([
      { key: "a", value: 1 },
      { key: "b", value: 2, ttlMs: 1_000 },
    ]);
    await cache.getMany(["a", "b", "c"]);
    await cache.has("a");
    expect(await cache.delete("a")).toBe(true);
    expect(await cache.delete("a")).toBe(false);
    expect(await cache.stats()).toEqual({
      name: "memory",
      hits: 2,
      misses: 1,
      sets: 2,
      deletes: 1,
      evictions: 0,
      errors: 0,
      size: 1,
    });
    await cache.close();
  });

  it("shares the entry limit of a named store and refuses a conflicting one", async () => {
    const first = createMemoryCache({ store: "limit-store", maxEntries: 2 });
    expect(() => createMemoryCache({ store: "limit-store", maxEntries: 3 })).toThrow(ConfigError);
    const second = createMemoryCache({ store: "limit-store", namespace: "other" });
    await first.set("a", 1);
    await first.set("b", 2);
    await second.set("c", 3);
    expect(await first.has("a")).toBe(false);
    await Promise.all([first.close(), second.close()]);
    expect(() => createMemoryCache({ maxEntries: 0 })).toThrow(ConfigError);
  });

  it("throws ClosedError after close", async () => {
    const cache = createMemoryCache();
    await cache.close();
    await expect(cache.get("x")).rejects.toBeInstanceOf(ClosedError);
  });
});
