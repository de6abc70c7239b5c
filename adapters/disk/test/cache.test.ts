import { ConfigError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { createDiskCache } from "../src/index.js";
import { tempFolder } from "./helpers.js";

const value = (size: number) => "x".repeat(size);

describe("disk cache", () => {
  it("evicts least recently used entries when the file holds more bytes than maxBytes", async () => {
    const path = tempFolder();
    const cache = createDiskCache({ path, maxBytes: 10_000 });
    for (const key of ["a", "b", "c", "d"]) await cache.set(key, value(2_000));
    // Reading "a" makes it the most recently used; its access time is recorded in the next batch.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.get("a")).toBe(value(2_000));
    await cache.close();

    const again = createDiskCache({ path, maxBytes: 10_000 });
    await again.set("e", value(3_000));
    expect(await again.has("a")).toBe(true);
    expect(await again.has("b")).toBe(false);
    expect(await again.getMany(["c", "d", "e"])).toEqual([value(2_000), value(2_000), value(3_000)]);
    expect((await again.stats()).evictions).toBe(1);
    await again.close();
  });

  it("evicts by entry count across namespaces, oldest first", async () => {
    const path = tempFolder();
    const a = createDiskCache({ path, namespace: "a", maxEntries: 3 });
    const b = createDiskCache({ path, namespace: "b", maxEntries: 3 });
    await a.set("1", 1);
    await b.set("2", 2);
    await a.set("3", 3);
    await b.set("4", 4);
    expect(await a.has("1")).toBe(false);
    expect(await b.getMany(["2", "4"])).toEqual([2, 4]);
    expect(await a.get("3")).toBe(3);
    expect((await b.stats()).evictions).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it("a value larger than maxBytes is stored and then evicted, never kept over the limit", async () => {
    const cache = createDiskCache({ path: tempFolder(), maxBytes: 1_000 });
    await cache.set("small", "ok");
    await cache.set("huge", value(5_000));
    expect(await cache.has("huge")).toBe(false);
    expect(await cache.has("small")).toBe(false);
    await cache.close();
  });

  it("entries, TTLs and namespaces survive closing and reopening the folder", async () => {
    const path = tempFolder();
    const first = createDiskCache({ path, namespace: "app", defaultTtlMs: 60_000 });
    await first.set("kept", { nested: [1, "two"] });
    await first.set("brief", 1, { ttlMs: 30 });
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 60));
    const second = createDiskCache({ path, namespace: "app" });
    expect(await second.get("kept")).toEqual({ nested: [1, "two"] });
    expect(await second.get("brief")).toBeUndefined();
    expect((await second.stats()).size).toBe(1);
    const other = createDiskCache({ path, namespace: "other" });
    expect(await other.get("kept")).toBeUndefined();
    await Promise.all([second.close(), other.close()]);
  });

  it("reads a URL's options; code options win; a bad option is a ConfigError", async () => {
    const path = tempFolder();
    const cache = createDiskCache({ url: `disk://${path}?namespace=u&max=2&ttlMs=60000` });
    await cache.setMany([
      { key: "a", value: 1 },
      { key: "b", value: 2 },
      { key: "c", value: 3 },
    ]);
    expect(await cache.getMany(["a", "b", "c"])).toEqual([undefined, 2, 3]);
    await cache.close();
    expect(() => createDiskCache({ url: `disk://${path}?max=0` })).toThrow(ConfigError);
    expect(() => createDiskCache({ url: `disk://${path}?bogus=1` })).toThrow(/unknown option "bogus"/);
    expect(() => createDiskCache({ path, maxBytes: -1 })).toThrow(ConfigError);
  });

  it("refuses values that are not JSON data", async () => {
    const cache = createDiskCache({ path: tempFolder() });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(cache.set("cyclic", cyclic)).rejects.toMatchObject({ name: "ValidationError" });
    await expect(cache.set("fn", () => 1)).rejects.toMatchObject({ name: "ValidationError" });
    await expect(cache.set("big", 10n)).rejects.toMatchObject({ name: "ValidationError" });
    await cache.close();
  });
});
