import { isConveyorError, parseUrl } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { conveyorAdapter, createBullmqQueue } from "../src/index.js";
import { parseBullmqUrl } from "../src/url.js";

const configError = (action: () => unknown): Error => {
  try {
    action();
  } catch (error) {
    expect(isConveyorError(error)).toBe(true);
    expect((error as Error).name).toBe("ConfigError");
    return error as Error;
  }
  throw new Error("expected a ConfigError");
};

describe("bullmq+redis:// URLs", () => {
  it("reads host, port, database, credentials and TLS", () => {
    const { target } = parseBullmqUrl("bullmq+rediss://user:s%40cret@cache.example:6380/3");
    expect(target).toMatchObject({
      host: "cache.example",
      port: 6380,
      db: 3,
      tls: true,
      username: "user",
      password: "s@cret",
    });
    expect(target.masked).toBe("bullmq+rediss://user:***@cache.example:6380/3");
    expect(parseBullmqUrl("bullmq+redis://localhost").target).toMatchObject({
      port: 6379,
      db: 0,
      tls: false,
    });
  });

  it("refuses unknown options, a bad database and another scheme, naming the masked URL", () => {
    const typo = configError(() => parseBullmqUrl("bullmq+redis://:pw@localhost:6379/0?prefx=a"));
    expect(typo.message).toContain('unknown option "prefx"');
    expect(typo.message).toContain(":***@");
    expect(typo.message).not.toContain("pw@");
    configError(() => parseBullmqUrl("bullmq+redis://localhost:6379/zero"));
    configError(() => parseBullmqUrl("bee-queue+redis://localhost:6379"));
  });

  it("the registry module turns URL options into adapter options and refuses bad numbers", async () => {
    const url = "bullmq+redis://127.0.0.1:1/0?stalledIntervalMs=abc";
    configError(() => conveyorAdapter.createQueue?.({ url, parsed: parseUrl(url) }));
    configError(() => createBullmqQueue({ url: "bullmq+redis://127.0.0.1:1", prefix: "a:b" }));
    configError(() => createBullmqQueue({ url: "bullmq+redis://127.0.0.1:1", maxStalledCount: 0 }));
  });
});
