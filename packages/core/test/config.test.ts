import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findConfigFile, loadConfig, resolveBackends } from "../src/config.js";
import { AdapterNotInstalledError, ConfigError } from "../src/errors.js";
import { createFromUrl, loadAdapterModule, registerAdapter } from "../src/registry.js";
import { maskUrl, maskUrlsIn, parseUrl, urlScheme } from "../src/url.js";

describe("backend resolution", () => {
  it("defaults to memory:// for every contract", () => {
    expect(resolveBackends({}, {})).toEqual({
      queue: "memory://",
      cache: "memory://",
      rateLimiter: "memory://",
    });
  });

  it("later wins: config url < config per-contract < CONVEYOR_URL < per-contract env", () => {
    const config = { url: "redis://a", cache: "disk://./c" };
    expect(resolveBackends(config, {})).toEqual({
      queue: "redis://a",
      cache: "disk://./c",
      rateLimiter: "redis://a",
    });
    expect(resolveBackends(config, { CONVEYOR_URL: "redis://b" })).toEqual({
      queue: "redis://b",
      cache: "redis://b",
      rateLimiter: "redis://b",
    });
    expect(
      resolveBackends(config, { CONVEYOR_URL: "redis://b", CONVEYOR_QUEUE_URL: "bullmq+redis://q" }).queue,
    ).toBe("bullmq+redis://q");
    expect(resolveBackends(config, { CONVEYOR_RATE_LIMIT_URL: "redis://rl" }).rateLimiter).toBe("redis://rl");
  });

  it("ignores env when env: false and keeps instances given in code", () => {
    const queue = { name: "given" } as never;
    const resolved = resolveBackends({ queue, env: false, url: "memory://x" }, { CONVEYOR_URL: "redis://b" });
    expect(resolved.queue).toBe(queue);
    expect(resolved.cache).toBe("memory://x");
  });

  it("treats blank env values as unset", () => {
    expect(resolveBackends({}, { CONVEYOR_URL: "  " }).queue).toBe("memory://");
  });
});

describe("URLs", () => {
  it("masks passwords wherever a URL is printed", () => {
    expect(maskUrl("redis://:secret@localhost:6379/0")).toBe("redis://:***@localhost:6379/0");
    expect(maskUrl("rediss://user:pw@h:1")).toBe("rediss://user:***@h:1");
    expect(maskUrl("redis://tokenonly@h")).toBe("redis://***@h");
    expect(maskUrl("memory://?max=10,redis://:p@h")).toBe("memory://?max=10,redis://:***@h");
    expect(maskUrl("disk://./data")).toBe("disk://./data");
    expect(maskUrlsIn("could not reach redis://:hunter2@db:6379 (ECONNREFUSED)")).toBe(
      "could not reach redis://:***@db:6379 (ECONNREFUSED)",
    );
  });

  it("reads schemes and rejects what is not a URL, without leaking the password", () => {
    expect(urlScheme("BullMQ+Redis://h")).toBe("bullmq+redis");
    expect(() => urlScheme("localhost:6379")).toThrow(ConfigError);
    expect(() => parseUrl("redis://:pw@[bad")).toThrow(/redis:\/\/:\*\*\*@\[bad/);
  });
});

describe("adapter registry", () => {
  it("names the package to install when a scheme's adapter is missing", async () => {
    // Every real adapter is installed in this workspace, so the missing one is registered here.
    registerAdapter("absent+redis", { packageName: "@conveyor/absent-adapter" });
    const error = await createFromUrl("queue", "absent+redis://localhost", ["/nonexistent"]).catch((e) => e);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect(error.message).toContain("npm install @conveyor/absent-adapter");
  });

  it("refuses unknown schemes and lists the known ones", async () => {
    await expect(loadAdapterModule("nope")).rejects.toThrow(/Known schemes: memory:\/\//);
  });

  it("creates adapters through registered modules and refuses missing contracts", async () => {
    const cache = { name: "fake-cache" };
    registerAdapter("unit-test", {
      packageName: "unit-test-adapter",
      load: async () => ({ createCache: () => cache as never }),
    });
    await expect(createFromUrl("cache", "unit-test://x")).resolves.toBe(cache);
    await expect(createFromUrl("queue", "unit-test://x")).rejects.toThrow(/does not support queues/);
  });
});

describe("config files", () => {
  it("loads conveyor.config.ts through jiti", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cv-config-"));
    writeFileSync(
      join(dir, "conveyor.config.ts"),
      `const concurrency: number = 3;\nexport default { url: "memory://from-ts", worker: { concurrency } };\n`,
    );
    expect(findConfigFile(dir)).toBe(join(dir, "conveyor.config.ts"));
    const config = await loadConfig({ cwd: dir });
    expect(config).toMatchObject({ url: "memory://from-ts", worker: { concurrency: 3 }, roots: [dir] });
  });

  it("loads .mjs and function exports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cv-config-"));
    writeFileSync(join(dir, "conveyor.config.mjs"), `export default () => ({ defaultQueue: "jobs" });\n`);
    expect(await loadConfig({ cwd: dir })).toMatchObject({ defaultQueue: "jobs" });
  });

  it("returns {} without a config file, and explains a broken one", async () => {
    const empty = mkdtempSync(join(tmpdir(), "cv-config-"));
    expect(await loadConfig({ cwd: empty })).toEqual({});
    await expect(loadConfig({ cwd: empty, file: "missing.ts" })).rejects.toThrow(/does not exist/);
    writeFileSync(join(empty, "conveyor.config.mjs"), "export default 42;\n");
    await expect(loadConfig({ cwd: empty })).rejects.toThrow(/must export a config object/);
    writeFileSync(join(empty, "bad.mjs"), "export default {;\n");
    await expect(loadConfig({ cwd: empty, file: "bad.mjs" })).rejects.toThrow(ConfigError);
  });
});
