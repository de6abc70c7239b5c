import { ConfigError, parseUrl } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { conveyorAdapter } from "../src/index.js";
import { newJob } from "./helpers.js";

const context = (url: string) => ({ url, parsed: parseUrl(url) });

describe("memory:// URLs", () => {
  it("memory://name shares one queue store in the process; memory:// is private", async () => {
    const a = await conveyorAdapter.createQueue!(context("memory://shared-url"));
    const b = await conveyorAdapter.createQueue!(context("memory://shared-url"));
    const lonely = await conveyorAdapter.createQueue!(context("memory://"));
    await a.add([newJob({ id: "seen-by-b" })]);
    expect((await b.getJob("seen-by-b"))?.id).toBe("seen-by-b");
    expect(await lonely.getJob("seen-by-b")).toBeUndefined();
    await Promise.all([a.close(), b.close(), lonely.close()]);
  });

  it("drops a named store when its last user closes", async () => {
    const first = await conveyorAdapter.createQueue!(context("memory://short-lived"));
    await first.add([newJob({ id: "gone" })]);
    await first.close();
    const second = await conveyorAdapter.createQueue!(context("memory://short-lived"));
    expect(await second.getJob("gone")).toBeUndefined();
    await second.close();
  });

  it("reads cache options from the query string", async () => {
    const cache = await conveyorAdapter.createCache!(context("memory://?max=2&ttlMs=60000&namespace=ns"));
    await cache.set("a", 1);
    await cache.set("b", 2);
    await cache.set("c", 3);
    expect(await cache.get("a")).toBeUndefined();
    expect((await cache.stats()).evictions).toBe(1);
    await cache.close();
  });

  it("shares caches and rate limiters by name too", async () => {
    const c1 = await conveyorAdapter.createCache!(context("memory://cache-url"));
    const c2 = await conveyorAdapter.createCache!(context("memory://cache-url"));
    await c1.set("k", { v: 1 });
    expect(await c2.get("k")).toEqual({ v: 1 });
    const l1 = await conveyorAdapter.createRateLimiter!(context("memory://limit-url"));
    const l2 = await conveyorAdapter.createRateLimiter!(context("memory://limit-url"));
    const limit = { points: 1, durationMs: 60_000 };
    expect((await l1.consume("key", limit)).allowed).toBe(true);
    expect((await l2.consume("key", limit)).allowed).toBe(false);
    await Promise.all([c1.close(), c2.close(), l1.close(), l2.close()]);
  });

  it("refuses unknown options, bad values and paths loudly", () => {
    expect(() => conveyorAdapter.createCache!(context("memory://?maxx=2"))).toThrow(ConfigError);
    expect(() => conveyorAdapter.createCache!(context("memory://?max=0"))).toThrow(/positive integer/);
    expect(() => conveyorAdapter.createCache!(context("memory://?ttlMs=soon"))).toThrow(ConfigError);
    expect(() => conveyorAdapter.createQueue!(context("memory://?max=2"))).toThrow(/takes no options/);
    expect(() => conveyorAdapter.createQueue!(context("memory://name/extra"))).toThrow(/has a path/);
  });
});
