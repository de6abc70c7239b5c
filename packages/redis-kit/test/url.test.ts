import { describe, expect, it } from "vitest";
import { parseRedisUrl, positiveParam } from "../src/index.js";

describe("parseRedisUrl", () => {
  it("reads host, port, credentials, database and TLS", () => {
    const { target } = parseRedisUrl("rediss://app:p%40ss@cache.internal:6380/4");
    expect(target).toMatchObject({
      mode: "standalone",
      tls: true,
      nodes: [{ host: "cache.internal", port: 6380 }],
      username: "app",
      password: "p@ss",
      db: 4,
      connectTimeoutMs: 5_000,
    });
    expect(target.masked).toBe("rediss://app:***@cache.internal:6380/4");
  });

  it("defaults to port 6379 and database 0, and reads IPv6 hosts", () => {
    expect(parseRedisUrl("redis://localhost").target).toMatchObject({
      nodes: [{ host: "localhost", port: 6379 }],
      db: 0,
      tls: false,
    });
    expect(parseRedisUrl("redis://[::1]:7000/").target.nodes).toEqual([{ host: "::1", port: 7000 }]);
  });

  it("reads Sentinel: the host or name= names the master group", () => {
    const { target } = parseRedisUrl(
      "redis://:pw@mymaster/2?sentinels=10.0.0.1:26379,10.0.0.2,[::1]:26380&sentinelPassword=spw",
    );
    expect(target).toMatchObject({
      mode: "sentinel",
      sentinelName: "mymaster",
      sentinelPassword: "spw",
      password: "pw",
      db: 2,
      nodes: [
        { host: "10.0.0.1", port: 26379 },
        { host: "10.0.0.2", port: 26379 },
        { host: "::1", port: 26380 },
      ],
    });
    expect(parseRedisUrl("redis://x/0?sentinels=s1:26379&name=other").target.sentinelName).toBe("other");
  });

  it("reads Cluster seeds from the host and nodes=", () => {
    const { target } = parseRedisUrl("redis://:pw@seed1:7000?cluster=true&nodes=seed2:7001,seed3");
    expect(target).toMatchObject({
      mode: "cluster",
      nodes: [
        { host: "seed1", port: 7000 },
        { host: "seed2", port: 7001 },
        { host: "seed3", port: 6379 },
      ],
    });
  });

  it("hands the adapter its own options and keeps them out of the connection key", () => {
    const { target, params } = parseRedisUrl("redis://h:1/0?namespace=a&connectTimeoutMs=250", {
      adapterParams: ["namespace"],
    });
    expect(params.get("namespace")).toBe("a");
    expect(target.connectTimeoutMs).toBe(250);
    expect(target.url).toBe("redis://h:1/0?connectTimeoutMs=250");
  });

  it.each([
    ["redis://h/x", /database index/],
    ["redis://h/0?typo=1", /unknown option "typo"/],
    ["redis://h:7000/1?cluster=true", /only database 0/],
    ["redis://h/0?sentinels=a:1&cluster=true", /one or the other/],
    ["redis://h/0?name=m", /name= without sentinels=/],
    ["redis://h/0?connectTimeoutMs=-5", /connectTimeoutMs/],
    ["memcached://h", /not a Redis URL/],
    ["redis://:secret@h/0?typo=1", /redis:\/\/:\*\*\*@h\/0/],
  ])("refuses %s", (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it("never shows the password in an error", () => {
    expect(() => parseRedisUrl("redis://:secret@h/0?typo=1")).not.toThrow(/secret/);
  });
});

describe("parseRedisUrl for an adapter with its own scheme", () => {
  const bullmq = { scheme: "bullmq", name: "BullMQ", scope: "bullmq", adapterParams: ["prefix"] };

  it("reads <scheme>+redis://, <scheme>+rediss:// and plain redis://", () => {
    expect(parseRedisUrl("bullmq+rediss://:pw@h:6380/3?prefix=app", bullmq)).toMatchObject({
      target: { host: "h", port: 6380, db: 3, tls: true, password: "pw" },
    });
    expect(parseRedisUrl("bullmq+rediss://h?prefix=app", bullmq).params.get("prefix")).toBe("app");
    expect(parseRedisUrl("redis://h", bullmq).target).toMatchObject({ host: "h", port: 6379, tls: false });
  });

  it("names the adapter and its scheme in its errors, with its scope", () => {
    expect(() => parseRedisUrl("bee-queue+redis://h", bullmq)).toThrow(
      /is not a BullMQ URL\. Use bullmq\+redis:\/\/host:6379\/0, or bullmq\+rediss:\/\/ for TLS/,
    );
    expect(() => parseRedisUrl("bullmq+redis://h?prefx=a", bullmq)).toThrow(
      /unknown option "prefx" in the BullMQ URL/,
    );
    expect(() => parseRedisUrl("bullmq+redis://h/x", bullmq)).toThrow(/^\[conveyor:bullmq\] the path of/);
  });

  it("refuses Sentinel and Cluster for a single-server adapter, saying why and what to do", () => {
    const single = { ...bullmq, singleServer: "Point it at the primary." };
    for (const query of ["sentinels=a:26379", "cluster=true", "nodes=a:1", "name=m", "sentinelPassword=x"]) {
      expect(() => parseRedisUrl(`bullmq+redis://h?${query}`, single)).toThrow(
        /talks to a single Redis server \(no Sentinel, no Cluster\)\. Point it at the primary\./,
      );
    }
    expect(() => parseRedisUrl("bullmq+redis://h?typo=1", single)).toThrow(
      /Accepted: connectTimeoutMs, prefix\./,
    );
  });
});

describe("positiveParam", () => {
  it("reads a positive number, undefined when absent, and refuses anything else", () => {
    const params = new URLSearchParams("a=5&b=0&c=x&d=");
    expect(positiveParam(params, "a", "redis://h")).toBe(5);
    expect(positiveParam(params, "missing", "redis://h")).toBeUndefined();
    for (const key of ["b", "c", "d"]) {
      expect(() => positiveParam(params, key, "redis://:secret@h")).toThrow(/must be a positive number/);
      expect(() => positiveParam(params, key, "redis://:secret@h")).not.toThrow(/secret/);
    }
  });
});
