import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "@conveyor/cli";
import { type DiagnosticReport, registerAdapter } from "@conveyor/core";
import { type RedisServerHandle, startRedisServer } from "@conveyor/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// The adapters from source, with their diagnose members (the registry would load their builds).
beforeAll(() => {
  registerAdapter("redis", { packageName: "@conveyor/redis", load: () => import("@conveyor/redis") });
  registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "conveyor-doctor-"));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function doctor(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["doctor", ...args], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    cwd: folder,
    env: { PATH: process.env.PATH, CONVEYOR_LOG_LEVEL: "error" },
  });
  return { code, stdout, stderr };
}

async function redisServer(args: string[] = [], appendonly = false): Promise<RedisServerHandle> {
  const redis = await startRedisServer({ args, appendonly });
  closers.push(() => redis.stop());
  return redis;
}

const check = (report: DiagnosticReport, kind: string, name: string, tier?: number) =>
  report.backends.find((b) => b.kind === kind && b.tier === tier)?.checks.find((c) => c.name === name);

describe("conveyor doctor", () => {
  it("checks a queue, three cache tiers and a limiter on real Redis and disk (--json)", async () => {
    const redis = await redisServer();
    const { code, stdout } = await doctor([
      "--queue-url",
      redis.url,
      "--cache-url",
      `memory://?max=100,${redis.url},disk://${folder}`,
      "--rate-limit-url",
      `${redis.url}?prefix=doctor:`,
      "--json",
    ]);
    const report = JSON.parse(stdout) as DiagnosticReport;
    expect(report.backends.map((b) => [b.kind, b.tier, b.adapter])).toEqual([
      ["queue", undefined, "@conveyor/redis"],
      ["cache", 0, "@conveyor/memory"],
      ["cache", 1, "@conveyor/redis"],
      ["cache", 2, "@conveyor/disk"],
      ["rateLimiter", undefined, "@conveyor/redis"],
    ]);
    const queue = report.backends[0]!;
    expect(queue.version).toMatch(/^Redis \d+\.\d+/);
    expect(check(report, "queue", "reachable")).toMatchObject({ status: "ok" });
    expect(check(report, "queue", "reachable")?.message).toMatch(/answers PING in [\d.]+ ms/);
    // The ephemeral server keeps nothing across a restart: a warning for the queue, fine for the cache.
    expect(check(report, "queue", "persistence")).toMatchObject({ status: "warn" });
    expect(check(report, "queue", "persistence")?.fix).toMatch(/appendonly yes/);
    expect(check(report, "cache", "persistence", 1)).toMatchObject({ status: "ok" });
    expect(check(report, "queue", "maxmemory-policy")).toMatchObject({ status: "ok" });
    expect(check(report, "cache", "version", 2)?.message).toMatch(/^SQLite \d/);
    expect(check(report, "cache", "free space", 2)?.status).not.toBe("fail");
    for (const backend of report.backends) {
      expect(backend.checks.find((c) => c.name === "round trip")).toMatchObject({ status: "ok" });
      expect(backend.roundTripMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.status).toBe("warn");
    expect(code).toBe(0);
  });

  it("fails a queue on a Redis that evicts keys, says what to set, and exits 3", async () => {
    const redis = await redisServer(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"], true);
    const { code, stdout } = await doctor(["--url", redis.url, "--cache-url", redis.url]);
    expect(code).toBe(3);
    expect(stdout).toMatch(/\[FAIL\] queue: redis:\/\/127\.0\.0\.1:\d+ \(@conveyor\/redis, Redis /);
    expect(stdout).toMatch(
      /FAIL {2}maxmemory-policy: maxmemory-policy allkeys-lru, maxmemory 67108864 bytes: .*jobs are lost/,
    );
    expect(stdout).toMatch(/ok {4}persistence: appendonly yes/);
    // The same policy is fine for a cache.
    expect(stdout).toMatch(/\[ok\] cache: redis:/);
    expect(stdout).toMatch(/Verdict: NOT READY, 1 problem to fix/);
    expect(stdout).toMatch(/- fix: queue redis:\/\/.*maxmemory-policy: Set maxmemory-policy noeviction/);
  });

  it("reports a Redis that is down as unreachable, without waiting out a round trip", async () => {
    const redis = await redisServer();
    await redis.kill("SIGKILL");
    const started = Date.now();
    const { code, stdout } = await doctor(["--queue-url", redis.url, "--timeout", "2000", "--json"]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(code).toBe(3);
    const report = JSON.parse(stdout) as DiagnosticReport;
    const queue = report.backends[0]!;
    expect(queue.status).toBe("fail");
    expect(queue.checks.map((c) => c.name)).toEqual(["reachable"]);
    expect(queue.checks[0]?.fix).toMatch(/Start Redis/);
    // memory:// for the rest: in-process, which the queue would not be here.
    expect(report.backends.find((b) => b.kind === "cache")?.status).toBe("ok");
  });

  it("knows what disk:// cannot do and when a folder cannot be written", async () => {
    const { code, stdout } = await doctor(["--url", `disk://${folder}/store`, "--json"]);
    expect(code).toBe(3);
    const report = JSON.parse(stdout) as DiagnosticReport;
    expect(report.backends.find((b) => b.kind === "queue")?.status).toBe("ok");
    expect(report.backends.find((b) => b.kind === "cache")?.status).toBe("ok");
    expect(check(report, "rateLimiter", "supported")).toMatchObject({ status: "fail" });
    expect(check(report, "rateLimiter", "supported")?.fix).toMatch(/memory:\/\/\?persist=/);
    // The first run's round trip created the store files; a second run inspects them.
    expect(check(report, "queue", "journal")).toBeUndefined();
    const again = JSON.parse(
      (await doctor(["--url", `disk://${folder}/store`, "--json"])).stdout,
    ) as DiagnosticReport;
    expect(check(again, "queue", "journal")?.message).toMatch(/queue\.sqlite: WAL mode/);
    expect(check(again, "cache", "journal")?.message).toMatch(/cache\.sqlite: WAL mode/);

    // A folder that cannot exist (under a file): a root user could write almost anywhere else.
    writeFileSync(join(folder, "a-file"), "");
    const blocked = await doctor([
      "--url",
      "memory://",
      "--queue-url",
      `disk://${folder}/a-file/store`,
      "--json",
    ]);
    const queue = (JSON.parse(blocked.stdout) as DiagnosticReport).backends[0]!;
    expect(queue.checks.map((c) => [c.name, c.status])).toEqual([["reachable", "fail"]]);
    expect(blocked.code).toBe(3);
  });

  it("passes on the in-process default with a warning that memory:// is not shared", async () => {
    const { code, stdout } = await doctor([]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/warn {2}reachable: in-process: only the process that creates it sees the queue/);
    expect(stdout).toMatch(/Verdict: works, with 1 warning worth a look/);
  });
});
