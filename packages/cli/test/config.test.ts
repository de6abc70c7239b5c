import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerAdapter } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { resolveCliBackends } from "../src/index.js";
import { cli } from "./support/cli.js";

// A `fake://` adapter that records the URL each backend was created with; it runs on memory.
// Host "down" fails like an unreachable server whose error message holds the full URL.
const created = { queue: [] as string[], cache: [] as string[], rateLimiter: [] as string[] };
beforeAll(() => {
  registerAdapter("fake", {
    packageName: "fake-conveyor-adapter",
    load: async () => ({
      conveyorAdapter: {
        createQueue: ({ url, parsed }) => {
          if (parsed.hostname === "down") throw new Error(`connection refused by ${url}`);
          created.queue.push(url);
          return createMemoryQueue();
        },
        createCache: ({ url }) => {
          created.cache.push(url);
          return createMemoryCache();
        },
        createRateLimiter: ({ url }) => {
          created.rateLimiter.push(url);
          return createMemoryRateLimiter();
        },
      },
    }),
  });
});
beforeEach(() => {
  for (const list of Object.values(created)) list.length = 0;
});

/** A folder whose conveyor.config.mjs sets `url` (a plain object: no imports needed). */
function configFolder(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-cli-config-"));
  writeFileSync(join(dir, "conveyor.config.mjs"), `export default ${JSON.stringify(config)};\n`);
  return dir;
}

async function backendsUsed(argv: string[], options: { env?: Record<string, string>; cwd: string }) {
  const run = await cli(["inspect", "queues", "--json", ...argv], options);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return {
    queue: created.queue.at(-1),
    cache: created.cache.at(-1),
    rateLimiter: created.rateLimiter.at(-1),
  };
}

describe("backend precedence: defaults → config file → env → flags", () => {
  it("uses the config file's url", async () => {
    const cwd = configFolder({ url: "fake://file" });
    expect(await backendsUsed([], { cwd })).toEqual({
      queue: "fake://file",
      cache: "fake://file",
      rateLimiter: "fake://file",
    });
  });

  it("lets CONVEYOR_URL beat the config file, and a per-contract env var beat CONVEYOR_URL", async () => {
    const cwd = configFolder({ url: "fake://file" });
    const env = { CONVEYOR_URL: "fake://env", CONVEYOR_CACHE_URL: "fake://env-cache" };
    expect(await backendsUsed([], { cwd, env })).toEqual({
      queue: "fake://env",
      cache: "fake://env-cache",
      rateLimiter: "fake://env",
    });
  });

  it("lets --url beat every env var, and a per-contract flag beat --url", async () => {
    const cwd = configFolder({ url: "fake://file", queue: "fake://file-queue" });
    const env = { CONVEYOR_URL: "fake://env", CONVEYOR_QUEUE_URL: "fake://env-queue" };
    expect(
      await backendsUsed(["--url", "fake://flag", "--rate-limit-url", "fake://flag-limiter"], { cwd, env }),
    ).toEqual({
      queue: "fake://flag",
      cache: "fake://flag",
      rateLimiter: "fake://flag-limiter",
    });
    expect(await backendsUsed(["--queue-url", "fake://flag-queue"], { cwd, env })).toEqual({
      queue: "fake://flag-queue",
      cache: "fake://env",
      rateLimiter: "fake://env",
    });
  });

  it("reads the file named by --config, relative to the working folder", async () => {
    const cwd = configFolder({ url: "fake://not-this-one" });
    writeFileSync(join(cwd, "other.mjs"), 'export default { url: "fake://other" };\n');
    expect((await backendsUsed(["--config", "other.mjs"], { cwd })).queue).toBe("fake://other");
  });

  it("resolveCliBackends applies the same order", () => {
    const config = { url: "memory://file", cache: "memory://file-cache" };
    expect(resolveCliBackends(config, {}, {})).toEqual({
      queue: "memory://file",
      cache: "memory://file-cache",
      rateLimiter: "memory://file",
    });
    expect(resolveCliBackends(config, {}, { CONVEYOR_URL: "memory://env" })).toEqual({
      queue: "memory://env",
      cache: "memory://env",
      rateLimiter: "memory://env",
    });
    expect(
      resolveCliBackends(
        config,
        { url: "memory://flag", cacheUrl: "memory://flag-cache" },
        { CONVEYOR_URL: "memory://env" },
      ),
    ).toEqual({ queue: "memory://flag", cache: "memory://flag-cache", rateLimiter: "memory://flag" });
    expect(resolveCliBackends({}, {}, {})).toEqual({
      queue: "memory://",
      cache: "memory://",
      rateLimiter: "memory://",
    });
  });
});

describe("config errors", () => {
  it("exits 2 when --config names a missing file", async () => {
    const run = await cli(["inspect", "registered", "--config", "missing.config.ts"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("does not exist");
  });

  it("exits 2 when the config file throws", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "conveyor-cli-config-"));
    writeFileSync(join(cwd, "conveyor.config.mjs"), 'throw new Error("broken config");\n');
    const run = await cli(["inspect", "registered"], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("broken config");
  });

  it("exits 2 for a URL that is not a backend URL, a scheme nobody registered, and a missing adapter package", async () => {
    const cwd = configFolder({});
    const bad = await cli(["inspect", "queues", "--url", "localhost:6379"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a backend URL");

    const unknown = await cli(["inspect", "queues", "--url", "nosuch://localhost"], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no adapter is registered for "nosuch://"');

    // A scheme whose package is nowhere to be found, as a real one is before `npm install`.
    registerAdapter("absent", { packageName: "@conveyor/absent-adapter-for-tests" });
    const missing = await cli(["inspect", "queues", "--url", "absent://:hunter2@localhost:6379"], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("npm install @conveyor/absent-adapter-for-tests");
    expect(missing.stderr).not.toContain("hunter2");
  });
});

describe("password masking", () => {
  it("masks the password in the worker banner", async () => {
    const cwd = configFolder({});
    const stop = new AbortController();
    stop.abort();
    const run = await cli(["worker", "--url", "fake://admin:s3cret@example.test:6379/0"], {
      cwd,
      signal: stop.signal,
    });
    expect(run.code).toBe(0);
    expect(created.queue).toEqual(["fake://admin:s3cret@example.test:6379/0"]);
    expect(run.stderr).toContain("queue backend  fake://admin:***@example.test:6379/0");
    expect(run.stderr + run.stdout).not.toContain("s3cret");
  });

  it("masks URL passwords inside a backend's own error, exiting 3", async () => {
    const cwd = configFolder({});
    const run = await cli(["inspect", "queues", "--url", "fake://admin:s3cret@down:6379", "--json"], { cwd });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("connection refused by fake://admin:***@down:6379");
    expect(JSON.parse(run.stdout).error).toMatchObject({
      code: "UNEXPECTED",
      message: expect.stringContaining("admin:***@down"),
    });
    expect(run.stderr + run.stdout).not.toContain("s3cret");
  });

  it("masks passwords in a malformed URL", async () => {
    const cwd = configFolder({});
    const run = await cli(["inspect", "queues", "--queue-url", "fake://admin:s3cret@exa mple:99999"], {
      cwd,
    });
    expect(run.code).toBe(2);
    expect(run.stderr + run.stdout).not.toContain("s3cret");
  });
});
