import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError, parseUrl } from "@conveyor/core";
import { afterEach, describe, expect, it } from "vitest";
import { conveyorAdapter, createMemoryRateLimiter } from "../src/index.js";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});
function stateFile(): string {
  const folder = mkdtempSync(join(tmpdir(), "conveyor-limits-"));
  folders.push(folder);
  return join(folder, "nested", "limits.json");
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const limit = { points: 5, durationMs: 60_000 };

describe("memory rate limiter persistence", () => {
  it("saves its windows on close and a new limiter on the same file counts on from them", async () => {
    const file = stateFile();
    const first = createMemoryRateLimiter({ persistPath: file });
    for (let i = 0; i < 3; i++) expect((await first.consume("user-1", limit)).allowed).toBe(true);
    await first.consume("user-2", limit, 5);
    await first.close();
    expect(existsSync(file)).toBe(true);

    const second = createMemoryRateLimiter({ persistPath: file });
    expect(await second.peek("user-1", limit)).toMatchObject({ consumed: 3, remaining: 2 });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await second.consume("user-1", limit)).allowed);
    expect(answers).toEqual([true, true, false]);
    expect((await second.consume("user-2", limit)).allowed).toBe(false);
    expect((await second.peek("user-1", limit)).resetMs).toBeGreaterThan(50_000);
    await second.close();
  });

  it("keeps a block across a restart and drops windows that ended meanwhile", async () => {
    const file = stateFile();
    const first = createMemoryRateLimiter({ persistPath: file });
    await first.consume("short", { points: 1, durationMs: 50 });
    await first.consume("blocked", { points: 1, durationMs: 50, blockDurationMs: 60_000 }, 2);
    await first.close();
    await sleep(80);
    const second = createMemoryRateLimiter({ persistPath: file });
    expect((await second.consume("short", { points: 1, durationMs: 50 })).allowed).toBe(true);
    const blocked = await second.consume("blocked", { points: 1, durationMs: 50, blockDurationMs: 60_000 });
    expect(blocked.allowed).toBe(false);
    expect(blocked.resetMs).toBeGreaterThan(50_000);
    await second.close();
    const saved = JSON.parse(readFileSync(file, "utf8")) as { windows: Record<string, unknown> };
    expect(Object.keys(saved.windows).sort()).toEqual(["blocked", "short"]);
  });

  it("saves every persistIntervalMs, so a crash without close loses at most that much", async () => {
    const file = stateFile();
    const limiter = createMemoryRateLimiter({ persistPath: file, persistIntervalMs: 20 });
    await limiter.consume("k", limit, 2);
    await sleep(60);
    const saved = JSON.parse(readFileSync(file, "utf8")) as { windows: Record<string, number[]> };
    expect(saved.windows.k?.[1]).toBe(2);
    await limiter.close();
  });

  it("a limiter joining a store already open in the process keeps the live counts", async () => {
    const file = stateFile();
    const first = createMemoryRateLimiter({ persistPath: file, store: "persist-shared" });
    await first.consume("k", limit, 2);
    await first.close();
    const a = createMemoryRateLimiter({ persistPath: file, store: "persist-shared" });
    await a.consume("k", limit, 1);
    const b = createMemoryRateLimiter({ persistPath: file, store: "persist-shared" });
    expect((await b.peek("k", limit)).consumed).toBe(3);
    await a.close();
    await b.close();
  });

  it("refuses a file it did not write, leaving it as it is", async () => {
    const file = stateFile();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "{ not json");
    expect(() => createMemoryRateLimiter({ persistPath: file })).toThrow(ConfigError);
    expect(() => createMemoryRateLimiter({ persistPath: file })).toThrow(/is not a state saved by Conveyor/);
    expect(readFileSync(file, "utf8")).toBe("{ not json");
    expect(() => createMemoryRateLimiter({ persistPath: file, persistIntervalMs: -1 })).toThrow(
      /persistIntervalMs/,
    );
  });

  it("takes persist and persistIntervalMs from a memory:// URL", async () => {
    const file = stateFile();
    const url = `memory://?persist=${encodeURIComponent(file)}&persistIntervalMs=1000`;
    const first = await conveyorAdapter.createRateLimiter!({ url, parsed: parseUrl(url) });
    await first.consume("k", limit, 4);
    await first.close();
    const second = await conveyorAdapter.createRateLimiter!({ url, parsed: parseUrl(url) });
    expect((await second.peek("k", limit)).remaining).toBe(1);
    await second.close();
    const bad = "memory://?persist=";
    expect(() => conveyorAdapter.createRateLimiter!({ url: bad, parsed: parseUrl(bad) })).toThrow(
      /must name a file/,
    );
    const typo = "memory://?persit=x";
    expect(() => conveyorAdapter.createRateLimiter!({ url: typo, parsed: parseUrl(typo) })).toThrow(
      /unknown option "persit".*Accepted: persist, persistIntervalMs/,
    );
  });
});
