import type { Logger } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { backoffMs, persistenceProblems, toBackendError, warnAboutPersistence } from "../src/index.js";

function recorder() {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  const log: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log, lines };
}

describe("backoffMs", () => {
  it("starts near 50 ms, doubles, and stays within ±20 % of 2 s at most", () => {
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(1)).toBeGreaterThanOrEqual(40);
      expect(backoffMs(1)).toBeLessThanOrEqual(60);
      expect(backoffMs(3)).toBeGreaterThanOrEqual(160);
      expect(backoffMs(30)).toBeLessThanOrEqual(2_400);
      expect(backoffMs(30)).toBeGreaterThanOrEqual(1_600);
    }
  });
});

describe("toBackendError", () => {
  it("names the masked URL and masks URLs in the client's message; Conveyor errors pass through", () => {
    const error = toBackendError(
      "redis://:***@h:6379/0",
      new Error("connect to redis://:secret@h:6379 refused."),
      "bullmq",
    );
    expect(error).toMatchObject({ name: "BackendUnavailableError", code: "BACKEND_UNAVAILABLE" });
    expect(error.message).toMatch(/^\[conveyor:bullmq\]/);
    expect(error.message).toMatch(/Redis at redis:\/\/:\*\*\*@h:6379\/0/);
    expect(error.message).not.toMatch(/secret/);
    expect(toBackendError("redis://h", error)).toBe(error);
  });
});

describe("persistence", () => {
  it("finds no persistence and an evicting policy; unknown values raise nothing", () => {
    expect(persistenceProblems({ appendonly: "no", save: "", maxmemoryPolicy: "allkeys-lru" })).toMatchObject(
      [
        { setting: "persistence" },
        { setting: "maxmemory-policy", problem: expect.stringMatching(/allkeys-lru.*noeviction/) },
      ],
    );
    expect(persistenceProblems({ appendonly: "yes", save: "", maxmemoryPolicy: "noeviction" })).toEqual([]);
    expect(persistenceProblems({ appendonly: "no", save: "3600 1", maxmemoryPolicy: undefined })).toEqual([]);
    expect(
      persistenceProblems({ appendonly: undefined, save: undefined, maxmemoryPolicy: undefined }),
    ).toEqual([]);
  });

  it("warns once per server, and only logs at debug level when CONFIG is refused", async () => {
    const { log, lines } = recorder();
    const server = `test-${Math.random()}`;
    const settings: Record<string, string> = { appendonly: "no", save: "", "maxmemory-policy": "noeviction" };
    const check = {
      server,
      masked: "redis://h",
      scope: "kit-test",
      log,
      configGet: async (p: string) => settings[p],
    };
    await warnAboutPersistence(check);
    await warnAboutPersistence(check);
    expect(lines).toEqual([
      {
        level: "warn",
        message: expect.stringMatching(/^\[conveyor:kit-test\] Redis at redis:\/\/h: it has no persistence/),
      },
    ]);

    const refused = recorder();
    await warnAboutPersistence({
      ...check,
      server: `${server}-managed`,
      log: refused.log,
      configGet: () => Promise.reject(new Error("ERR unknown command 'CONFIG'")),
    });
    expect(refused.lines.map((line) => line.level)).toEqual(["debug"]);
  });
});
