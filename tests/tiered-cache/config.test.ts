import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandContext } from "@conveyor/cli";
import { type Conveyor, createConveyor, loadConfig, registerAdapter, type TieredCache } from "@conveyor/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

// The adapters from source; the registry would otherwise load their builds.
beforeAll(() => {
  registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-tiered-config-"));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tiersOf(conveyor: Conveyor): string[] {
  closers.push(() => conveyor.close());
  return ((conveyor.cache as TieredCache).tiers ?? []).map((tier) => tier.name);
}

describe("a comma-separated cache URL builds the same tiered cache in every surface", () => {
  it("library: CONVEYOR_CACHE_URL", async () => {
    const dir = folder();
    const saved = process.env.CONVEYOR_CACHE_URL;
    process.env.CONVEYOR_CACHE_URL = `memory://?max=100,disk://${dir}`;
    try {
      const conveyor = await createConveyor({ logger: false });
      expect(conveyor.cache.name).toBe("tiered");
      expect(tiersOf(conveyor)).toEqual(["memory", "disk"]);
      expect(conveyor.backends.cache).toBe(`memory://?max=100,disk://${dir}`);
    } finally {
      if (saved === undefined) delete process.env.CONVEYOR_CACHE_URL;
      else process.env.CONVEYOR_CACHE_URL = saved;
    }
  });

  it("config file: cache and tieredCache", async () => {
    const dir = folder();
    writeFileSync(
      join(dir, "conveyor.config.mjs"),
      `export default { cache: "memory://?max=10,disk://${dir}", tieredCache: { backfillTtlMs: 5000 }, logger: false };\n`,
    );
    const conveyor = await createConveyor({ ...(await loadConfig({ cwd: dir })), env: false });
    expect(tiersOf(conveyor)).toEqual(["memory", "disk"]);
  });

  it("CLI: --cache-url beats the env and the config file", async () => {
    const dir = folder();
    writeFileSync(
      join(dir, "conveyor.config.mjs"),
      `export default { cache: "memory://", logger: false };\n`,
    );
    const ctx = new CommandContext(
      { cacheUrl: `memory://flag?max=10,disk://${dir}?namespace=cli` },
      { cwd: dir, env: { CONVEYOR_CACHE_URL: "memory://from-env" } },
    );
    const conveyor = await ctx.open();
    expect(tiersOf(conveyor)).toEqual(["memory", "disk"]);
    await conveyor.cache.set("k", 1);
    expect(await conveyor.cache.get("k")).toBe(1);
  });

  it("a tier whose adapter refuses its URL fails the platform with that adapter's message", async () => {
    await expect(
      createConveyor({ cache: "memory://?max=10,memory://?nope=1", env: false, logger: false }),
    ).rejects.toThrow(/unknown option "nope"/);
  });
});
