import { randomUUID } from "node:crypto";
import { ConfigError, createConveyor } from "@conveyor/core";
import { useRedis } from "@conveyor/testing";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../src/index.js";
import { type Harness, startHarness } from "./support.js";

const TOKEN_A = "token-a-0123456789abcdef";
const TOKEN_B = "token-b-0123456789abcdef";

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});
async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}

describe("bearer tokens", () => {
  it("refuses requests without a token, with a wrong one or a malformed header", async () => {
    const h = await harness("memory", { server: { auth: { tokens: [TOKEN_A] } }, worker: false });
    const none = await h.call("/v1/queues", { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="conveyor"');
    expect(((await none.json()) as any).error).toMatchObject({ code: "UNAUTHORIZED" });

    const wrong = await h.call("/v1/queues", { token: "token-a-0123456789abcdeX" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const short = await h.call("/v1/queues", { token: "x" });
    expect(short.status).toBe(401);
    const basic = await h.call("/v1/queues", { token: null, headers: { authorization: `Basic ${TOKEN_A}` } });
    expect(basic.status).toBe(401);

    for (const path of ["/v1/queues", "/metrics", "/openapi.json", "/v1/tasks"]) {
      expect((await h.call(path, { token: null })).status).toBe(401);
      expect((await h.call(path, { token: TOKEN_A })).status).toBe(200);
    }
    // Health probes stay open for load balancers and orchestrators.
    expect((await h.call("/healthz", { token: null })).status).toBe(200);
    expect((await h.call("/readyz", { token: null })).status).toBe(200);
    // The document tells clients to authenticate.
    const doc = (await (await h.call("/openapi.json", { token: TOKEN_A })).json()) as any;
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
  });

  it("checks auth before reading the body: no token, no 413 or schema error", async () => {
    const h = await harness("memory", { server: { auth: { tokens: [TOKEN_A] } }, worker: false });
    const response = await h.call("/v1/tasks/demo.greet", { token: null, json: { input: { name: "" } } });
    expect(response.status).toBe(401);
    expect(await h.conveyor.listJobs()).toEqual([]);
  });

  it("reads tokens from CONVEYOR_API_TOKENS", async () => {
    const h = await harness("memory", {
      server: { env: { CONVEYOR_API_TOKENS: ` ${TOKEN_A} ,${TOKEN_B}` } },
      worker: false,
    });
    expect((await h.call("/v1/queues", { token: TOKEN_A })).status).toBe(200);
    expect((await h.call("/v1/queues", { token: TOKEN_B })).status).toBe(200);
    expect((await h.call("/v1/queues", { token: null })).status).toBe(401);
  });

  it("refuses to start beyond loopback without a token, and starts with one", async () => {
    const conveyor = await createConveyor({ url: "memory://", logger: false, env: false });
    try {
      const refused = await startServer({ conveyor, host: "0.0.0.0", port: 0, env: {} }).catch((e) => e);
      expect(refused).toBeInstanceOf(ConfigError);
      expect(refused.message).toMatch(
        /^\[conveyor:server\] refusing to listen on 0\.0\.0\.0 without an API token/,
      );
      const server = await startServer({
        conveyor,
        host: "0.0.0.0",
        port: 0,
        env: {},
        auth: { tokens: [TOKEN_A] },
      });
      const response = await fetch(`http://127.0.0.1:${server.port}/v1/queues`, {
        headers: { authorization: `Bearer ${TOKEN_A}` },
      });
      expect(response.status).toBe(200);
      await server.close();
      const loopback = await startServer({ conveyor, host: "localhost", port: 0, env: {} });
      await loopback.close();
    } finally {
      await conveyor.close();
    }
  });

  it("refuses options that cannot work", async () => {
    const conveyor = await createConveyor({ url: "memory://", logger: false, env: false });
    try {
      for (const bad of [
        { maxBodyBytes: 0 },
        { maxWaitMs: -1 },
        { maxBulkItems: 1.5 },
        { basePath: "api" },
      ]) {
        const error = await startServer({ conveyor, port: 0, env: {}, ...bad }).catch((e) => e);
        expect(error, JSON.stringify(bad)).toBeInstanceOf(ConfigError);
      }
    } finally {
      await conveyor.close();
    }
  });

  it("refuses tokens that are too short to be secret", async () => {
    const conveyor = await createConveyor({ url: "memory://", logger: false, env: false });
    try {
      const error = await startServer({ conveyor, port: 0, env: {}, auth: { tokens: ["short"] } }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain("at least 16 characters");
    } finally {
      await conveyor.close();
    }
  });
});

describe("per-token rate limits", () => {
  it("answers 429 with Retry-After once a token used its points, counting each token apart", async () => {
    const h = await harness("memory", {
      server: {
        auth: {
          tokens: [TOKEN_A, { token: TOKEN_B, name: "batch", rateLimit: { points: 5, durationMs: 60_000 } }],
          rateLimit: { points: 3, durationMs: 60_000 },
        },
      },
      worker: false,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await h.call("/v1/queues", { token: TOKEN_A })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await h.call("/v1/queues", { token: TOKEN_A });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(((await refused.json()) as any).error.code).toBe("RATE_LIMITED");

    const other = await h.call("/v1/queues", { token: TOKEN_B });
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit-limit")).toBe("5");
    expect(other.headers.get("ratelimit-remaining")).toBe("4");

    const metrics = await (await h.call("/metrics", { token: TOKEN_B })).text();
    expect(metrics).toMatch(/^conveyor_rate_limit_rejections_total\{scope="api",token="token-1"\} 2$/m);
  });
});

describe("per-token rate limits across servers", () => {
  it("holds one limit for a token across two API processes sharing a Redis rate limiter", async () => {
    const redis = await useRedis();
    const prefix = `conveyor-api-limit-${randomUUID().slice(0, 8)}`;
    const open = () =>
      createConveyor({
        url: "memory://",
        rateLimiter: `${redis.url}?prefix=${prefix}`,
        logger: false,
        env: false,
      });
    const [a, b] = await Promise.all([open(), open()]);
    const auth = { tokens: [TOKEN_A], rateLimit: { points: 3, durationMs: 60_000 } };
    const [sa, sb] = await Promise.all([
      startServer({ conveyor: a, port: 0, env: {}, auth }),
      startServer({ conveyor: b, port: 0, env: {}, auth }),
    ]);
    try {
      const statuses: number[] = [];
      for (const url of [sa.url, sb.url, sa.url, sb.url]) {
        const response = await fetch(`${url}/v1/queues`, { headers: { authorization: `Bearer ${TOKEN_A}` } });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
      await Promise.all([a.close(), b.close()]);
      await redis.stop();
    }
  });
});

describe("CORS", () => {
  it("sends no CORS headers unless configured", async () => {
    const h = await harness("memory", { worker: false });
    const response = await h.call("/v1/queues", { headers: { origin: "https://app.example.com" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await h.call("/v1/queues", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(405);
  });

  it("answers preflights and allows the configured origins only", async () => {
    const h = await harness("memory", {
      worker: false,
      server: { cors: { origins: ["https://app.example.com"] }, auth: { tokens: [TOKEN_A] } },
    });
    const preflight = await h.call("/v1/tasks/demo.greet", {
      method: "OPTIONS",
      token: null,
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");

    const allowed = await h.call("/v1/queues", {
      token: TOKEN_A,
      headers: { origin: "https://app.example.com" },
    });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const other = await h.call("/v1/queues", {
      token: TOKEN_A,
      headers: { origin: "https://evil.example.com" },
    });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
