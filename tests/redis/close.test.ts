import { createServer, type Socket } from "node:net";
import { createRedisCache, createRedisRateLimiter } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCount, clientNames, recordingLogger } from "./helpers.js";

describe("connections: shared per role and URL, all released by close()", () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("caches and limiters of one URL share one connection per role; closing the last releases it", async () => {
    const { log } = recordingLogger();
    const before = await clientCount(redis.url);
    const handlesBefore = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;

    const caches = Array.from({ length: 3 }, () =>
      createRedisCache({ url: redis.url, namespace: randomPrefix(), log }),
    );
    const limiters = Array.from({ length: 2 }, () =>
      createRedisRateLimiter({ url: redis.url, prefix: `${randomPrefix()}:`, log }),
    );
    for (const cache of caches) await cache.set("k", 1);
    for (const limiter of limiters) await limiter.consume("k", { points: 5, durationMs: 10_000 });

    expect(await clientCount(redis.url)).toBe(before + 2);
    expect((await clientNames(redis.url)).sort()).toEqual(["conveyor:cache", "conveyor:rate-limiter"]);

    // Closing all but one of a role keeps the shared connection open for the last one.
    await caches[0]!.close();
    await caches[1]!.close();
    await limiters[0]!.close();
    expect(await caches[2]!.get("k")).toBe(1);
    expect((await limiters[1]!.peek("k", { points: 5, durationMs: 10_000 })).consumed).toBe(1);
    expect(await clientCount(redis.url)).toBe(before + 2);

    await caches[2]!.close();
    await limiters[1]!.close();
    await waitFor(async () => (await clientCount(redis.url)) === before, {
      message: "every connection to be closed on the server",
    });
    // No socket is left open in this process either.
    await waitFor(
      () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length <= handlesBefore,
      { message: "no socket handle left in the process" },
    );
    // Closing twice is harmless; a closed cache refuses calls.
    await caches[0]!.close();
    await expect(caches[0]!.get("k")).rejects.toThrow(/closed/);
  });

  it("close() while Redis is unreachable still releases everything", async () => {
    const { log } = recordingLogger();
    const url = `redis://127.0.0.1:${redis.port}/0`;
    const cache = createRedisCache({ url, namespace: randomPrefix(), log });
    const limiter = createRedisRateLimiter({ url, log });
    await cache.set("k", 1);
    await limiter.consume("k", { points: 1, durationMs: 1_000 });
    await redis.kill("SIGKILL");
    await expect(cache.get("k")).rejects.toThrow(/unavailable/);
    await cache.close();
    await limiter.close();
    await redis.restart();
    // Nobody reconnects after close: the restarted server sees only redis-cli.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await clientCount(redis.url)).toBe(1);
  });

  it("close() during a first connection that never answers leaves no timer or socket behind", async () => {
    // A server that accepts connections and never replies: the handshake hangs.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const count = (type: string) => process.getActiveResourcesInfo().filter((r) => r === type).length;
    const timersBefore = count("Timeout");
    const { log } = recordingLogger();
    const url = `redis://127.0.0.1:${port}/0?connectTimeoutMs=30000`;
    const cache = createRedisCache({ url, namespace: randomPrefix(), log });
    const limiter = createRedisRateLimiter({ url, log, insurance: false });
    const pending = [cache.get("k"), limiter.consume("k", { points: 1, durationMs: 1_000 })].map((p) =>
      p.then(
        () => "answered",
        (error: Error) => error.name,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await cache.close();
    await limiter.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    // The calls that waited for the first connection are told it closed.
    expect(await Promise.all(pending)).toEqual(["ClosedError", "ClosedError"]);
    await waitFor(() => count("Timeout") <= timersBefore, { message: "no timer left behind" });
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
});
