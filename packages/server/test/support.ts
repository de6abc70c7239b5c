import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conveyor,
  type ConveyorConfig,
  createConveyor,
  defineTask,
  registerAdapter,
  type Worker,
} from "@conveyor/core";
import { type RedisConnection, useRedis } from "@conveyor/testing";
import { z } from "zod";
import { type ConveyorServer, type ServerOptions, startServer } from "../src/index.js";

// The registry resolves adapters from the app's root; point the schemes at the packages under test.
registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
registerAdapter("disk", { packageName: "@conveyor/disk", load: () => import("@conveyor/disk") });
registerAdapter("redis", { packageName: "@conveyor/redis", load: () => import("@conveyor/redis") });

export const greet = defineTask({
  name: "demo.greet",
  description: "Says hello.",
  input: z.object({ name: z.string().min(1), times: z.number().int().min(1).max(10).optional() }),
  output: z.string(),
  run: ({ name, times }) => `hello ${name}`.repeat(times ?? 1),
});

export const steps = defineTask({
  name: "demo.steps",
  input: z.object({ count: z.number().int().min(1).max(50), delayMs: z.number().min(0).default(5) }),
  async run({ count, delayMs }, ctx) {
    for (let i = 1; i <= count; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await ctx.progress({ current: i, total: count, message: `step ${i}` });
    }
    return { done: count };
  },
});

export const explode = defineTask({
  name: "demo.explode",
  input: z.object({ message: z.string() }),
  run: ({ message }): string => {
    throw new Error(message);
  },
});

export const slow = defineTask({
  name: "demo.slow",
  input: z.object({ ms: z.number().min(0).max(10_000) }),
  async run({ ms }, ctx) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return ms;
  },
});

export const TASKS = [greet, steps, explode, slow];

export type BackendKind = "memory" | "disk" | "redis";

export interface Harness {
  conveyor: Conveyor;
  server: ConveyorServer;
  worker: Worker | undefined;
  url: string;
  /** `fetch` against the server with a path, JSON body helpers and the token when set. */
  call(path: string, init?: RequestInit & { json?: unknown; token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Opens a platform on `kind` (disk in a fresh temp folder; redis on an ephemeral `redis-server`,
 * or `REDIS_URL`, under a random key prefix, queue, cache and rate limiter alike), a worker and an
 * API server on a free port.
 */
export async function startHarness(
  kind: BackendKind,
  options: {
    config?: ConveyorConfig;
    server?: Omit<ServerOptions, "conveyor">;
    worker?: boolean;
    token?: string;
  } = {},
): Promise<Harness> {
  let folder: string | undefined;
  let redis: RedisConnection | undefined;
  let queue = "memory://";
  let cache = "memory://";
  let rateLimiter = "memory://";
  if (kind === "disk") {
    folder = mkdtempSync(join(tmpdir(), "conveyor-server-"));
    queue = `disk://${folder}?pollIntervalMs=10&minPollMs=2`;
    cache = `disk://${folder}`;
  } else if (kind === "redis") {
    redis = await useRedis();
    const prefix = `conveyor-server-${randomUUID().slice(0, 8)}`;
    queue = `${redis.url}?prefix=${prefix}:q`;
    cache = `${redis.url}?prefix=${prefix}:c`;
    rateLimiter = `${redis.url}?prefix=${prefix}:r`;
  }
  const conveyor = await createConveyor({
    queue,
    cache,
    rateLimiter,
    tasks: TASKS,
    logger: false,
    env: false,
    heartbeat: { intervalMs: 200 },
    ...options.config,
  });
  const worker = options.worker === false ? undefined : conveyor.worker({ concurrency: 4 });
  const server = await startServer({
    conveyor,
    port: 0,
    env: {},
    ...options.server,
  });
  return {
    conveyor,
    server,
    worker,
    url: server.url,
    call(path, init = {}) {
      const { json, token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (json !== undefined) {
        headers.set("content-type", "application/json");
        rest.body = JSON.stringify(json);
        rest.method ??= "POST";
      }
      const bearer = token === undefined ? options.token : token;
      if (bearer) headers.set("authorization", `Bearer ${bearer}`);
      return fetch(`${server.url}${path}`, { ...rest, headers });
    },
    async close() {
      await server.close();
      await conveyor.close();
      if (folder) rmSync(folder, { recursive: true, force: true });
      await redis?.stop();
    },
  };
}

/** One parsed Server-Sent Event. */
export interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/** Reads a whole event stream (until the server ends it) and parses its events. */
export async function readEventStream(response: Response): Promise<SseEvent[]> {
  const text = await response.text();
  const events: SseEvent[] = [];
  for (const block of text.split("\n\n")) {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) events.push({ event, ...(id ? { id } : {}), data: JSON.parse(data.join("\n")) });
  }
  return events;
}
