import { fileURLToPath } from "node:url";
import { diagnoseBackends } from "@conveyor/core";
import { type RedisConnection, randomPrefix, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The doctor finds the adapter the way an app does: by URL scheme, from the app's package root.
const appRoot = fileURLToPath(new URL("..", import.meta.url));

let redis: RedisConnection;
beforeAll(async () => {
  redis = await startRedisServer({ appendonly: true });
});
afterAll(async () => {
  await redis?.stop();
});

describe("conveyor doctor on bee-queue+redis://", () => {
  it("checks the server and makes a round trip through the adapter", async () => {
    const url = `bee-queue+redis://${redis.host}:${redis.port}/0?prefix=${randomPrefix()}`;
    const report = await diagnoseBackends(
      { queue: url, cache: "memory://", rateLimiter: "memory://" },
      { roots: [appRoot], timeoutMs: 5_000 },
    );
    const queue = report.backends.find((backend) => backend.kind === "queue")!;
    expect(queue).toMatchObject({ adapter: "@conveyor/bee-queue", status: "ok" });
    expect(queue.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(["reachable", "version", "persistence", "maxmemory-policy", "round trip"]),
    );
    expect(queue.roundTripMs).toBeGreaterThan(0);
  });
});
