import { isConveyorError, parseUrl } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { conveyorAdapter } from "../src/index.js";
import { parseBeeQueueUrl } from "../src/url.js";

const configError = (run: () => unknown): Error => {
  try {
    run();
  } catch (error) {
    expect(isConveyorError(error)).toBe(true);
    expect((error as Error).name).toBe("ConfigError");
    return error as Error;
  }
  throw new Error("expected a ConfigError");
};

describe("bee-queue URLs", () => {
  it("reads host, port, database, credentials and TLS, and masks the password", () => {
    const { target } = parseBeeQueueUrl("bee-queue+rediss://app:s3cret@cache.internal:6380/4");
    expect(target).toMatchObject({
      host: "cache.internal",
      port: 6380,
      db: 4,
      username: "app",
      password: "s3cret",
      tls: true,
      connectTimeoutMs: 5_000,
    });
    expect(target.masked).not.toContain("s3cret");
    expect(parseBeeQueueUrl("bee-queue+redis://localhost").target).toMatchObject({
      port: 6379,
      db: 0,
      tls: false,
    });
    expect(parseBeeQueueUrl("redis://[::1]:7000/1?connectTimeoutMs=250").target).toMatchObject({
      host: "::1",
      port: 7000,
      db: 1,
      connectTimeoutMs: 250,
    });
  });

  it("hands the adapter its own options and refuses anything else", () => {
    const { params } = parseBeeQueueUrl("bee-queue+redis://h/0?prefix=jobs", ["prefix"]);
    expect(params.get("prefix")).toBe("jobs");
    expect(
      configError(() => parseBeeQueueUrl("bee-queue+redis://h/0?prefx=jobs", ["prefix"])).message,
    ).toMatch(/unknown option "prefx".*Accepted: connectTimeoutMs, prefix/);
  });

  it("refuses Sentinel, Cluster, other schemes, a bad database and a bad timeout with what to do", () => {
    expect(configError(() => parseBeeQueueUrl("bee-queue+redis://h?sentinels=a:26379")).message).toMatch(
      /single Redis server/,
    );
    expect(configError(() => parseBeeQueueUrl("bee-queue+redis://h?cluster=true")).message).toMatch(
      /no Sentinel, no Cluster/,
    );
    expect(configError(() => parseBeeQueueUrl("bullmq+redis://h")).message).toMatch(/not a Bee-Queue URL/);
    expect(configError(() => parseBeeQueueUrl("bee-queue+redis://h/main")).message).toMatch(/database index/);
    expect(configError(() => parseBeeQueueUrl("bee-queue+redis://h?connectTimeoutMs=0")).message).toMatch(
      /connectTimeoutMs/,
    );
    expect(configError(() => parseBeeQueueUrl("bee-queue+redis:// bad url")).message).toMatch(
      /not a valid URL/,
    );
  });

  it("the registry module refuses a bad checkIntervalMs and a bad prefix before connecting", () => {
    const create = (url: string) => conveyorAdapter.createQueue?.({ url, parsed: parseUrl(url) });
    expect(configError(() => create("bee-queue+redis://127.0.0.1:1/0?checkIntervalMs=soon")).message).toMatch(
      /checkIntervalMs=soon/,
    );
    expect(configError(() => create("bee-queue+redis://127.0.0.1:1/0?prefix=a*b")).message).toMatch(/prefix/);
  });
});
