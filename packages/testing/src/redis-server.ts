import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConveyorError, type ConveyorErrorOptions } from "@conveyor/core";

/**
 * `redis-server` is not installed (or not on `PATH`), so an ephemeral server cannot be started.
 *
 * @example
 * ```ts
 * import { RedisServerNotFoundError, startRedisServer } from "@conveyor/testing";
 * try {
 *   await startRedisServer();
 * } catch (error) {
 *   if (error instanceof RedisServerNotFoundError) console.error(error.message);
 * }
 * ```
 */
export class RedisServerNotFoundError extends ConveyorError {
  override name = "RedisServerNotFoundError" as const;
  constructor(binary: string, options: ConveyorErrorOptions = {}) {
    super(
      "REDIS_SERVER_NOT_FOUND",
      `"${binary}" was not found on PATH, so no ephemeral Redis can be started. Install it (Debian/Ubuntu: \`apt-get install redis-server\`, macOS: \`brew install redis\`), or set REDIS_URL to a running server.`,
      { scope: "testing", ...options, details: { ...options.details, binary } },
    );
  }
}

/**
 * `redis-server` started but did not answer `PING` in time, or exited while starting;
 * `details.log` holds the end of its output.
 *
 * @example
 * ```ts
 * import { RedisServerStartError, startRedisServer } from "@conveyor/testing";
 * try {
 *   await startRedisServer({ startTimeoutMs: 1 });
 * } catch (error) {
 *   if (error instanceof RedisServerStartError) console.error(error.details.log);
 * }
 * ```
 */
export class RedisServerStartError extends ConveyorError {
  override name = "RedisServerStartError" as const;
  constructor(reason: string, log: string, options: ConveyorErrorOptions = {}) {
    super(
      "REDIS_SERVER_START_FAILED",
      `redis-server did not start: ${reason}. Its last output:\n${log || "(none)"}\nCheck the arguments passed with \`args\`, or run redis-server by hand to see why.`,
      { scope: "testing", ...options, details: { ...options.details, log } },
    );
  }
}

/** How an ephemeral `redis-server` is started. */
export interface RedisServerOptions {
  /**
   * Address to bind and connect to.
   * @defaultValue `"127.0.0.1"`
   */
  host?: string;
  /**
   * Port to listen on.
   * @defaultValue a free port found with {@link freePort}
   */
  port?: number;
  /**
   * Turn on the append-only file, so data survives {@link RedisServerHandle.restart} and a crash.
   * @defaultValue `false` (and snapshots are off too: `--save ""`)
   */
  appendonly?: boolean;
  /**
   * `appendfsync` policy when `appendonly` is on; `"always"` loses nothing on `kill("SIGKILL")`.
   * @defaultValue `"always"`
   */
  appendfsync?: "always" | "everysec" | "no";
  /**
   * Extra command-line arguments, appended last so they win, e.g. `["--cluster-enabled", "yes"]`.
   * @defaultValue `[]`
   */
  args?: readonly string[];
  /**
   * The executable to run.
   * @defaultValue `process.env.REDIS_SERVER_BIN` or `"redis-server"`
   */
  binary?: string;
  /**
   * How long to wait for the server to answer `PING`.
   * @defaultValue `10_000`
   */
  startTimeoutMs?: number;
  /**
   * How long {@link RedisServerHandle.stop} waits after `SIGTERM` before it sends `SIGKILL`.
   * @defaultValue `10_000`
   */
  stopTimeoutMs?: number;
}

/** A Redis to test against: an ephemeral one, or the one named by `REDIS_URL`. */
export interface RedisConnection {
  /** `redis://host:port`, ready to pass to a client or an adapter. */
  readonly url: string;
  /** The host in {@link RedisConnection.url}. */
  readonly host: string;
  /** The port in {@link RedisConnection.url}. */
  readonly port: number;
  /** True when the server came from `REDIS_URL` and is shared: use random key prefixes, never FLUSHALL. */
  readonly external: boolean;
  /** Stops the server and removes its data; a no-op for an external server. Safe to call twice. */
  stop(): Promise<void>;
}

/** A running ephemeral `redis-server` owned by the caller. */
export interface RedisServerHandle extends RedisConnection {
  readonly external: false;
  /** The server's own temporary data folder (AOF, RDB, cluster `nodes.conf`); removed by `stop()`. */
  readonly dataDir: string;
  /** Process id of the current server process; it changes on {@link RedisServerHandle.restart}. */
  readonly pid: number;
  /** Whether the server process is running. */
  readonly running: boolean;
  /**
   * Sends `signal` to the server and resolves once it has exited; the data folder is kept, so
   * `restart()` can bring it back.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the server again on the same port and data folder (stopping it first with `SIGTERM`
   * if it runs) and resolves once it answers `PING`.
   */
  restart(): Promise<void>;
}

type ResolvedOptions = Required<Omit<RedisServerOptions, "port" | "binary">>;

const DEFAULTS = {
  host: "127.0.0.1",
  appendonly: false,
  appendfsync: "always",
  args: [],
  startTimeoutMs: 10_000,
  stopTimeoutMs: 10_000,
} satisfies ResolvedOptions;

const LOG_LINES = 60;

// Servers still running when this process exits are killed, so a test that forgot stop()
// leaves no redis-server and no temp folder behind.
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function trackForExit(child: ChildProcess, dataDir: string): void {
  live.set(child, dataDir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [proc, dir] of live) {
      try {
        proc.kill("SIGKILL");
      } catch {
        // Already gone; nothing left to clean but the folder.
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Finds a TCP port that is free right now, by binding port 0 and closing the socket.
 * Another process may take it before you bind it; {@link startRedisServer} retries in that case.
 *
 * @example
 * ```ts
 * import { freePort } from "@conveyor/testing";
 * const port = await freePort();
 * console.log(`listen on ${port}`);
 * ```
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error(`could not read the port bound on ${host}`));
        return;
      }
      server.close((error) => (error ? reject(error) : resolvePort(address.port)));
    });
  });
}

/** One `PING` over a raw socket, in RESP; resolves with the reply line, e.g. `+PONG`. */
function ping(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolveReply, reject) => {
    const socket = createConnection({ host, port });
    let buffer = "";
    const done = (error: Error | undefined, reply?: string) => {
      socket.destroy();
      if (error) reject(error);
      else resolveReply(reply ?? "");
    };
    socket.setTimeout(timeoutMs, () => done(new Error("PING timed out")));
    socket.once("error", (error) => done(error));
    socket.once("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      const end = buffer.indexOf("\r\n");
      if (end !== -1) done(undefined, buffer.slice(0, end));
    });
    socket.once("close", () => done(new Error("connection closed before a reply")));
  });
}

const delay = (ms: number) => new Promise((resolveDelay) => setTimeout(resolveDelay, ms));

function buildArgs(options: ResolvedOptions, port: number, dataDir: string): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    options.host,
    "--dir",
    dataDir,
    "--daemonize",
    "no",
    "--save",
    "",
    "--appendonly",
    options.appendonly ? "yes" : "no",
    ...(options.appendonly ? ["--appendfsync", options.appendfsync] : []),
    ...options.args,
  ];
}

/**
 * Starts an ephemeral `redis-server` on a free port with its own temporary data folder, and
 * resolves once it answers `PING`. Snapshots and the AOF are off unless `appendonly` is set.
 * Always `stop()` it (an `afterAll` hook); servers left running are killed when the process exits.
 *
 * @throws {@link RedisServerNotFoundError} when `redis-server` is not installed.
 * @throws {@link RedisServerStartError} when it does not answer `PING` in time.
 *
 * @example
 * ```ts
 * import { startRedisServer } from "@conveyor/testing";
 * const redis = await startRedisServer({ appendonly: true });
 * try {
 *   console.log(redis.url); // redis://127.0.0.1:<port>
 *   await redis.kill("SIGKILL"); // a crash
 *   await redis.restart(); // same port, same data
 * } finally {
 *   await redis.stop();
 * }
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const settings: ResolvedOptions = { ...DEFAULTS, ...options };
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? "redis-server";
  const dataDir = await mkdtemp(join(tmpdir(), "conveyor-redis-"));
  let port = options.port ?? (await freePort(settings.host));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  const log: string[] = [];

  const remember = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim()) log.push(line.trimEnd());
    }
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
  };

  /** Spawns the process and waits for PING; rejects with a typed error and leaves nothing running. */
  const launch = async (): Promise<void> => {
    log.length = 0;
    const proc = spawn(binary, buildArgs(settings, port, dataDir), { stdio: ["ignore", "pipe", "pipe"] });
    // The output must be read or redis-server blocks once the pipe is full.
    proc.stdout?.on("data", remember);
    proc.stderr?.on("data", remember);
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;
    exited = new Promise<void>((resolveExit) => {
      proc.once("exit", (code, signal) => {
        exitInfo = { code, signal };
        live.delete(proc);
        resolveExit();
      });
      proc.once("error", (error: NodeJS.ErrnoException) => {
        spawnError = error;
        live.delete(proc);
        resolveExit();
      });
    });
    child = proc;
    trackForExit(proc, dataDir);

    const deadline = Date.now() + settings.startTimeoutMs;
    for (;;) {
      if (spawnError) {
        if (spawnError.code === "ENOENT") throw new RedisServerNotFoundError(binary, { cause: spawnError });
        throw new RedisServerStartError(spawnError.message, log.join("\n"), { cause: spawnError });
      }
      if (exitInfo) {
        const how = exitInfo.signal ? `signal ${exitInfo.signal}` : `code ${exitInfo.code}`;
        throw new RedisServerStartError(`it exited with ${how} while starting`, log.join("\n"), {
          details: { port, addressInUse: log.some((line) => /address already in use/i.test(line)) },
        });
      }
      try {
        const reply = await ping(settings.host, port, 1_000);
        if (reply === "+PONG") break;
        // "-LOADING ..." while the AOF is replayed: keep asking.
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        await exited;
        throw new RedisServerStartError(
          `no PONG within ${settings.startTimeoutMs} ms on ${settings.host}:${port}`,
          log.join("\n"),
        );
      }
      await delay(25);
    }
    // A forgotten server must not keep the test process alive; the exit hook kills it.
    proc.unref();
    (proc.stdout as { unref?: () => void } | null)?.unref?.();
    (proc.stderr as { unref?: () => void } | null)?.unref?.();
  };

  const terminate = async (signal: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.ref();
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(true), timeoutMs);
    });
    const late = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      proc.kill("SIGKILL");
      await exited;
    }
  };

  // The port was free a moment ago; if another process took it meanwhile, try a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      const raced =
        error instanceof RedisServerStartError && error.details.addressInUse === true && !options.port;
      if (raced && attempt < 5) {
        port = await freePort(settings.host);
        continue;
      }
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  const handle: RedisServerHandle = {
    get url() {
      return `redis://${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${port}`;
    },
    host: settings.host,
    get port() {
      return port;
    },
    external: false,
    dataDir,
    get pid() {
      return child?.pid ?? -1;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      await terminate(signal, settings.stopTimeoutMs);
    },
    async restart() {
      if (stopped) throw new ConveyorError("CLOSED", "this redis-server was stopped; start a new one.");
      await terminate("SIGTERM", settings.stopTimeoutMs);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate("SIGTERM", settings.stopTimeoutMs);
      if (child) live.delete(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

/**
 * The Redis a test should use: `REDIS_URL` when it is set (a shared server, and `stop()` does
 * nothing), otherwise a fresh {@link startRedisServer}. With a shared server, tests must use a
 * random key prefix each and never `FLUSHALL` or `FLUSHDB`: other tests and other runs share it.
 *
 * @example
 * ```ts
 * import { useRedis } from "@conveyor/testing";
 * const redis = await useRedis();
 * const prefix = `test:${crypto.randomUUID()}:`; // isolates this test on a shared server
 * console.log(redis.url, prefix, redis.external);
 * await redis.stop();
 * ```
 */
export async function useRedis(options: RedisServerOptions = {}): Promise<RedisConnection> {
  const fromEnv = process.env.REDIS_URL;
  if (!fromEnv) return startRedisServer(options);
  let parsed: URL;
  try {
    parsed = new URL(fromEnv);
  } catch (cause) {
    throw new ConveyorError(
      "CONFIG",
      `REDIS_URL is not a valid URL. Set it like redis://127.0.0.1:6379/0, or unset it to start an ephemeral server.`,
      { scope: "testing", cause },
    );
  }
  return {
    url: fromEnv,
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port ? Number(parsed.port) : 6379,
    external: true,
    stop: async () => {},
  };
}
