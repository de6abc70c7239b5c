import { describe, expect, it } from "vitest";
import { parseRedisUrl } from "../src/url.js";

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
    const { target, params } = parseRedisUrl("redis://h:1/0?namespace=a&connectTimeoutMs=250", ["namespace"]);
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
