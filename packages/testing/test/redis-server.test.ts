import { existsSync, readdirSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { isConveyorError } from "@conveyor/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  freePort,
  type RedisServerHandle,
  RedisServerNotFoundError,
  startRedisServer,
  useRedis,
} from "../src/index.js";

type Reply = string | number | null | Error | Reply[];

/** Sends one command in RESP over a raw socket and reads one reply (no Redis client on purpose). */
function command(port: number, ...args: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let buffer = Buffer.alloc(0);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`no reply to ${args[0]}`));
    });
    socket.once("error", reject);
    socket.once("connect", () => {
      const parts = args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
      socket.write(`*${args.length}\r\n${parts.join("")}`);
    });
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parse(buffer, 0);
      if (parsed === undefined) return;
      socket.destroy();
      resolve(parsed.reply);
    });
  });
}

/** Parses one RESP2 reply at `offset`, or returns undefined while it is incomplete. */
function parse(buffer: Buffer, offset: number): { reply: Reply; next: number } | undefined {
  const end = buffer.indexOf("\r\n", offset);
  if (end === -1) return undefined;
  const line = buffer.subarray(offset + 1, end).toString("utf8");
  const next = end + 2;
  switch (String.fromCharCode(buffer[offset] ?? 0)) {
    case "+":
      return { reply: line, next };
    case "-":
      return { reply: new Error(line), next };
    case ":":
      return { reply: Number(line), next };
    case "$": {
      const length = Number(line);
      if (length === -1) return { reply: null, next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.subarray(next, next + length).toString("utf8"), next: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count === -1) return { reply: null, next };
      const items: Reply[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, cursor);
        if (item === undefined) return undefined;
        items.push(item.reply);
        cursor = item.next;
      }
      return { reply: items, next: cursor };
    }
    default:
      throw new Error(`unexpected reply: ${buffer.toString("utf8")}`);
  }
}

/** Whether something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const started: RedisServerHandle[] = [];
async function start(...args: Parameters<typeof startRedisServer>): Promise<RedisServerHandle> {
  const server = await startRedisServer(...args);
  started.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
  vi.unstubAllEnvs();
});

describe("freePort", () => {
  it("returns a port that can be bound", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe("startRedisServer", () => {
  it("starts a server that answers PING over a raw socket", async () => {
    const redis = await start();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.host).toBe("127.0.0.1");
    expect(redis.external).toBe(false);
    expect(redis.pid).toBeGreaterThan(0);
    expect(redis.running).toBe(true);
    expect(existsSync(redis.dataDir)).toBe(true);
    expect(await command(redis.port, "PING")).toBe("PONG");
  });

  it("stores and reads values (SET/GET)", async () => {
    const redis = await start();
    expect(await command(redis.port, "SET", "greeting", "hola")).toBe("OK");
    expect(await command(redis.port, "GET", "greeting")).toBe("hola");
    expect(await command(redis.port, "GET", "missing")).toBeNull();
  });

  it("turns persistence off by default, so a restart starts empty", async () => {
    const redis = await start();
    expect(await command(redis.port, "CONFIG", "GET", "appendonly")).toEqual(["appendonly", "no"]);
    expect(await command(redis.port, "CONFIG", "GET", "save")).toEqual(["save", ""]);
    await command(redis.port, "SET", "k", "v");
    await redis.restart();
    expect(await command(redis.port, "GET", "k")).toBeNull();
  });

  it("keeps data across restart() on the same port and data folder when appendonly is on", async () => {
    const redis = await start({ appendonly: true });
    const { port, dataDir, pid } = redis;
    expect(await command(port, "CONFIG", "GET", "appendonly")).toEqual(["appendonly", "yes"]);
    expect(await command(port, "CONFIG", "GET", "appendfsync")).toEqual(["appendfsync", "always"]);
    expect(await command(port, "SET", "kept", "yes")).toBe("OK");
    await redis.restart();
    expect(redis.port).toBe(port);
    expect(redis.dataDir).toBe(dataDir);
    expect(redis.pid).not.toBe(pid);
    expect(await command(port, "GET", "kept")).toBe("yes");
  });

  it("survives kill -9 with appendfsync always, then restarts", async () => {
    const redis = await start({ appendonly: true, appendfsync: "always" });
    await command(redis.port, "SET", "durable", "1");
    await command(redis.port, "INCR", "durable");
    await redis.kill("SIGKILL");
    expect(redis.running).toBe(false);
    expect(await listening(redis.port)).toBe(false);
    await redis.restart();
    expect(redis.running).toBe(true);
    expect(await command(redis.port, "GET", "durable")).toBe("2");
  });

  it("passes extra arguments, e.g. cluster mode", async () => {
    const redis = await start({ args: ["--cluster-enabled", "yes", "--maxmemory", "16mb"] });
    const info = await command(redis.port, "CLUSTER", "INFO");
    expect(info).toMatch(/cluster_enabled:1|cluster_state:/);
    expect(readdirSync(redis.dataDir)).toContain("nodes.conf");
    expect(await command(redis.port, "CONFIG", "GET", "maxmemory")).toEqual([
      "maxmemory",
      String(16 * 1024 * 1024),
    ]);
  });

  it("stop() shuts the server down and removes its data folder; a second stop() is a no-op", async () => {
    const redis = await startRedisServer({ appendonly: true });
    await command(redis.port, "SET", "k", "v");
    await redis.stop();
    expect(redis.running).toBe(false);
    expect(existsSync(redis.dataDir)).toBe(false);
    expect(await listening(redis.port)).toBe(false);
    await redis.stop();
    await expect(redis.restart()).rejects.toThrow(/stopped/);
  });

  it("starts several servers side by side on distinct ports", async () => {
    const servers = await Promise.all([start(), start(), start()]);
    expect(new Set(servers.map((server) => server.port)).size).toBe(3);
    await command(servers[0]!.port, "SET", "where", "first");
    expect(await command(servers[1]!.port, "GET", "where")).toBeNull();
  });

  it("throws RedisServerNotFoundError when the binary is missing", async () => {
    const error = await startRedisServer({ binary: "conveyor-no-such-redis-server" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RedisServerNotFoundError);
    expect(isConveyorError(error)).toBe(true);
    expect((error as RedisServerNotFoundError).code).toBe("REDIS_SERVER_NOT_FOUND");
    expect((error as Error).message).toContain("apt-get install redis-server");
    expect((error as Error).message).toMatch(/^\[conveyor:testing\]/);
  });

  it("reports a server that exits while starting, with its output", async () => {
    const error = await startRedisServer({ args: ["--no-such-directive", "1"] }).catch((e: unknown) => e);
    expect(isConveyorError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("REDIS_SERVER_START_FAILED");
    expect((error as Error).message).toMatch(/no-such-directive/i);
  });
});

describe("useRedis", () => {
  it("uses REDIS_URL when it is set, and its stop() leaves the server alone", async () => {
    const redis = await start();
    vi.stubEnv("REDIS_URL", `redis://127.0.0.1:${redis.port}/0`);
    const shared = await useRedis();
    expect(shared.external).toBe(true);
    expect(shared.url).toBe(`redis://127.0.0.1:${redis.port}/0`);
    expect(shared.port).toBe(redis.port);
    await shared.stop();
    expect(await command(redis.port, "PING")).toBe("PONG");
  });

  it("starts an ephemeral server when REDIS_URL is not set", async () => {
    vi.stubEnv("REDIS_URL", "");
    const redis = await useRedis();
    try {
      expect(redis.external).toBe(false);
      expect(await command(redis.port, "PING")).toBe("PONG");
    } finally {
      await redis.stop();
    }
    expect(await listening(redis.port)).toBe(false);
  });
});
