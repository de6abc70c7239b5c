import { join, resolve } from "node:path";
import { ConfigError, parseUrl } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { conveyorAdapter } from "../src/index.js";
import { parseDiskUrl } from "../src/location.js";
import { newJob, tempFolder } from "./helpers.js";

const context = (url: string) => ({ url, parsed: parseUrl(url) });

describe("disk:// URLs", () => {
  it("the folder is the host and path: relative to the working directory, or absolute", () => {
    expect(parseDiskUrl("disk://./.conveyor").folder).toBe("./.conveyor");
    expect(parseDiskUrl("disk://data/jobs").folder).toBe("data/jobs");
    expect(parseDiskUrl("disk:///var/lib/app").folder).toBe("/var/lib/app");
    expect(parseDiskUrl("disk:///tmp/with%20space?durability=full").folder).toBe("/tmp/with space");
    expect(() => parseDiskUrl("disk://")).toThrow(ConfigError);
    expect(() => parseDiskUrl("disk://user:secret@host/x")).toThrow(/credentials/);
    expect(() => parseDiskUrl("memory://x")).toThrow(/not a disk URL/);
  });

  it("a queue and a cache made from one URL share its folder, in two files", async () => {
    const folder = tempFolder();
    const url = `disk://${folder}?durability=full`;
    const queue = await conveyorAdapter.createQueue!(context(url));
    await queue.add([newJob({ id: "from-url" })]);
    const cache = await conveyorAdapter.createCache!(context(`disk://${folder}?namespace=n`));
    await cache.set("k", "v");
    const { existsSync } = await import("node:fs");
    expect(existsSync(join(folder, "queue.sqlite"))).toBe(true);
    expect(existsSync(join(folder, "cache.sqlite"))).toBe(true);
    const again = await conveyorAdapter.createQueue!(context(`disk://${folder}`));
    expect((await again.getJob("from-url"))?.id).toBe("from-url");
    await Promise.all([queue.close(), again.close(), cache.close()]);
  });

  it("relative URLs resolve against the working directory", async () => {
    const folder = tempFolder();
    const cwd = process.cwd();
    process.chdir(folder);
    try {
      const queue = await conveyorAdapter.createQueue!(context("disk://./store"));
      await queue.counts("default");
      await queue.close();
    } finally {
      process.chdir(cwd);
    }
    const { existsSync } = await import("node:fs");
    expect(existsSync(resolve(folder, "store", "queue.sqlite"))).toBe(true);
  });

  it("unknown or malformed query options are refused with a ConfigError", () => {
    expect(() => conveyorAdapter.createQueue!(context("disk://./x?leaseMs=fast"))).toThrow(
      /positive integer/,
    );
    expect(() => conveyorAdapter.createQueue!(context("disk://./x?durability=sometimes"))).toThrow(
      /"normal" or "full"/,
    );
    expect(() => conveyorAdapter.createQueue!(context("disk://./x?max=3"))).toThrow(/unknown option "max"/);
    expect(() => conveyorAdapter.createCache!(context("disk://./x?leaseMs=3"))).toThrow(
      /unknown option "leaseMs"/,
    );
  });
});
