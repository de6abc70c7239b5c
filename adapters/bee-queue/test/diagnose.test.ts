import { parseUrl } from "@conveyor/core";
import { freePort, type RedisServerHandle, startRedisServer } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conveyorAdapter, diagnoseBeeQueue } from "../src/index.js";

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const diagnose = (url: string) =>
  diagnoseBeeQueue({ url, parsed: parseUrl(url), kind: "queue", timeoutMs: 2_000 });

describe("bee-queue doctor", () => {
  it("reports reachability, version, and a queue's persistence and eviction settings", async () => {
    expect(conveyorAdapter.diagnose).toBe(diagnoseBeeQueue);
    const { version, checks } = await diagnose(`bee-queue+redis://${redis.host}:${redis.port}/0?prefix=bq`);
    expect(version).toMatch(/^Redis \d+\.\d+/);
    const byName = new Map(checks.map((check) => [check.name, check]));
    expect(byName.get("reachable")?.status).toBe("ok");
    expect(byName.get("version")?.status).toBe("ok");
    // The test server keeps nothing across a restart: a queue must be told.
    expect(byName.get("persistence")).toMatchObject({
      status: "warn",
      fix: expect.stringMatching(/appendonly yes/),
    });
    expect(byName.get("maxmemory-policy")?.status).toBe("ok");
  });

  it("a server that is down is a failed check, not an exception", async () => {
    const port = await freePort();
    const { checks } = await diagnose(`bee-queue+redis://:secret@127.0.0.1:${port}/0`);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: "reachable", status: "fail" });
    expect(checks[0]!.message).not.toContain("secret");
  });

  it("a malformed URL is a failed check", async () => {
    const { checks } = await diagnose("bee-queue+redis://h/0?cluster=true");
    expect(checks[0]).toMatchObject({ name: "url", status: "fail" });
  });
});
