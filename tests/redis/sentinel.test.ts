import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { freePort, type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientNames, recordingLogger, redisCli } from "./helpers.js";

// One master and one Sentinel watching it (quorum 1): enough to drive the clients' Sentinel mode,
// where the master's address is asked of the Sentinel rather than written in the URL.
describe("Redis Sentinel through ?sentinels=", () => {
  let master: RedisServerHandle;
  let sentinel: ChildProcess | undefined;
  let dir: string;
  let sentinelPort: number;
  beforeAll(async () => {
    master = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), "conveyor-sentinel-"));
    sentinelPort = await freePort();
    const conf = join(dir, "sentinel.conf");
    // Sentinel rewrites its config file, so it must be a file of its own.
    await writeFile(
      conf,
      [
        `port ${sentinelPort}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
        "",
      ].join("\n"),
    );
    sentinel = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" });
    await waitFor(
      async () =>
        (
          await redisCli(
            `redis://127.0.0.1:${sentinelPort}`,
            "SENTINEL",
            "get-master-addr-by-name",
            "mymaster",
          )
        ).includes(String(master.port)),
      { timeoutMs: 10_000, message: "the Sentinel to know the master" },
    );
  });
  afterAll(async () => {
    if (sentinel && sentinel.exitCode === null) {
      const exited = new Promise((resolve) => sentinel?.once("exit", resolve));
      sentinel.kill("SIGTERM");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    await master?.stop();
  });

  it("the cache and the limiter find the master through the Sentinel", async () => {
    const { log } = recordingLogger();
    const url = `redis://mymaster/3?sentinels=127.0.0.1:${sentinelPort}`;
    const namespace = randomPrefix();
    const prefix = `${randomPrefix()}:`;
    const cache = createRedisCache({ url, namespace, log });
    const limiter = createRedisRateLimiter({ url, prefix, log, insurance: false });
    try {
      await cache.set("k", { via: "sentinel" });
      expect(await cache.get("k")).toEqual({ via: "sentinel" });
      expect((await limiter.consume("k", { points: 2, durationMs: 60_000 })).remaining).toBe(1);
      // Both wrote to database 3 of the master.
      const db3 = `${master.url}/3`;
      expect(await redisCli(db3, "EXISTS", `conveyor:cache:${namespace}::k`)).toBe("1");
      expect(await redisCli(db3, "HGET", `${prefix}k`, "c")).toBe("1");
    } finally {
      await cache.close();
      await limiter.close();
    }
    await waitFor(async () => !(await clientNames(master.url)).some((name) => name.startsWith("conveyor:")), {
      message: "close() to release the connections to the master",
    });
  });
});
