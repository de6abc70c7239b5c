import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackendKind, type Harness, startHarness } from "./support.js";

/**
 * Sends thousands of malformed requests — random methods, paths, query strings, headers, content
 * types and bodies, plus raw bytes that break HTTP framing — and checks that none is answered
 * with a 5xx, that every error the API writes has the documented JSON shape, and that the server
 * still works afterwards. The generator is seeded, so a failure names the seed that reproduces it
 * (FUZZ_SEED=<n> to replay, FUZZ_REQUESTS=<n> for a longer run, FUZZ_BACKEND=disk|redis for
 * another adapter than memory).
 */

const TOKEN = "fuzz-token-0123456789abcdef";
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 2_400);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const CONCURRENCY = 16;
const BACKEND = (process.env.FUZZ_BACKEND ?? "memory") as BackendKind;

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = mulberry32(SEED);
const int = (max: number) => Math.floor(random() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const chance = (p: number) => random() < p;

function randomString(max: number, alphabet?: string): string {
  const length = int(max + 1);
  let out = "";
  for (let i = 0; i < length; i += 1) {
    out += alphabet
      ? alphabet[int(alphabet.length)]
      : String.fromCharCode(chance(0.8) ? 32 + int(95) : int(0x2fff));
  }
  return out;
}

const TASKS = [
  "demo.greet",
  "demo.steps",
  "demo.explode",
  "demo.slow",
  "demo.nope",
  "",
  "..",
  "%2e%2e",
  "a/b",
];
const SEGMENTS = [
  "v1",
  "tasks",
  "jobs",
  "queues",
  "events",
  "retry",
  "cancel",
  "bulk",
  "pause",
  "resume",
  "purge",
  "workers",
  "cache",
  "stats",
  "healthz",
  "readyz",
  "metrics",
  "openapi.json",
  "%",
  "%zz",
  "%C0%AF",
  "%00",
  "..",
  ".",
  "",
  "default",
];
const TEMPLATES = [
  () => `/v1/tasks/${pick(TASKS)}`,
  () => `/v1/tasks/${pick(TASKS)}/bulk`,
  () => `/v1/tasks/${pick(TASKS)}?wait=${pick(["-1", "abc", "99999999999", "0", "10", "1e3", "", "5"])}`,
  () => `/v1/tasks`,
  () =>
    `/v1/jobs?${pick(["state=bogus", "state=", "limit=0", "limit=99999", "offset=-1", "queue=%zz", "state=failed,completed&limit=2", "limit=1.5"])}`,
  () => `/v1/jobs/${encodeURIComponent(randomString(20))}`,
  () => `/v1/jobs/${randomString(12, "abc%/.?#")}`,
  () => `/v1/jobs/${randomString(8, "abcdef0123456789")}/${pick(["events", "retry", "cancel", "bogus"])}`,
  () => `/v1/queues/${encodeURIComponent(randomString(10))}/${pick(["pause", "resume", "purge", "", "x"])}`,
  () => `/v1/queues`,
  () => `/v1/workers`,
  () => `/v1/cache/stats`,
  () =>
    pick([
      "/healthz",
      "/readyz",
      "/metrics",
      "/openapi.json",
      "/",
      "",
      "*",
      "//v1//jobs",
      "/v1/",
      "/V1/TASKS",
    ]),
  () =>
    `/${Array.from({ length: int(6) }, () => pick(SEGMENTS)).join("/")}${chance(0.3) ? `?${randomString(30)}` : ""}`,
  () => `/v1/tasks/${"x".repeat(2_000 + int(6_000))}`,
  () => `/${encodeURIComponent(randomString(40))}`,
];
const METHODS = [
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "HEAD",
  "get",
  "PROPFIND",
  "CONNECTX",
  "FOO",
];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=latin1",
  "application/vnd.api+json",
  "APPLICATION/JSON",
  "text/plain",
  "multipart/form-data; boundary=xyz",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "",
  ";;;",
  "application/json; charset=",
  randomString(30),
];

function randomJson(depth: number): unknown {
  if (depth <= 0) return pick([null, true, 1, -0.5, "s", 1e308, ""]);
  switch (int(7)) {
    case 0:
      return Array.from({ length: int(4) }, () => randomJson(depth - 1));
    case 1: {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < int(4); i += 1)
        out[
          pick([
            "input",
            "jobId",
            "delayMs",
            "priority",
            "queue",
            "meta",
            "items",
            "states",
            "__proto__",
            "constructor",
            randomString(6),
          ])
        ] = randomJson(depth - 1);
      return out;
    }
    case 2:
      return randomString(40);
    case 3:
      return pick([Number.MAX_SAFE_INTEGER, -1, 0, 3.14, 1e21]);
    case 4:
      return { input: { name: randomString(10), times: pick([1, 2, 0, 11, "x", null]) } };
    case 5:
      return { items: Array.from({ length: int(5) }, () => ({ input: randomJson(depth - 1) })) };
    default:
      return {
        input: randomJson(depth - 1),
        ...(chance(0.3) ? { delayMs: pick([-5, 1e300, "soon", 10]) } : {}),
      };
  }
}

function randomBody(): string | Buffer | undefined {
  switch (int(9)) {
    case 0:
      return undefined;
    case 1:
      return "";
    case 2:
      return JSON.stringify(randomJson(4));
    case 3:
      return JSON.stringify(randomJson(4)).slice(0, -1 - int(5));
    case 4:
      return Buffer.from(Array.from({ length: int(200) }, () => int(256)));
    case 5:
      return `${"[".repeat(5_000 + int(50_000))}${"]".repeat(int(10))}`;
    case 6:
      return JSON.stringify({ input: { name: "x".repeat(1_048_576 + int(10_000)) } });
    case 7:
      return pick(["null", "0", '"text"', "[]", "{}", "true", "\uFEFF{}", '{"input":{}}garbage']);
    default:
      return JSON.stringify({ input: { name: randomString(12) } });
  }
}

interface Outcome {
  status: number;
  contentType: string | undefined;
  body: string;
  where: string;
}

/** A request close to a valid submit, so the fuzz reaches schema validation and the queue, not only the router. */
function nearValid(): {
  method: string;
  path: string;
  body: string | Buffer | undefined;
  headers: Record<string, string>;
} {
  const task = pick(["demo.greet", "demo.greet", "demo.steps", "demo.explode", "demo.nope"]);
  const bulk = chance(0.2);
  const wait = chance(0.2) ? `?wait=${pick(["0", "50", "x", "-3"])}` : "";
  const item = () =>
    chance(0.7)
      ? { input: { name: randomString(8) || "n", ...(chance(0.3) ? { times: int(12) } : {}) } }
      : randomJson(3);
  const body = chance(0.1)
    ? randomBody()
    : JSON.stringify(bulk ? { items: Array.from({ length: int(4) }, item) } : item());
  return {
    method: "POST",
    path: `/v1/tasks/${task}${bulk ? "/bulk" : ""}${wait}`,
    body,
    headers: {
      "content-type": pick(["application/json", "application/json", "text/plain"]),
      authorization: `Bearer ${TOKEN}`,
    },
  };
}

function httpRequest(url: string): Promise<Outcome> {
  if (chance(0.3)) return send(url, nearValid());
  const method = pick(METHODS);
  const path = pick(TEMPLATES)();
  const body =
    method === "GET" || method === "HEAD" ? (chance(0.1) ? randomBody() : undefined) : randomBody();
  const headers: Record<string, string> = {};
  if (chance(0.8)) {
    const type = pick(CONTENT_TYPES);
    if (/^[\t\x20-\x7e]*$/.test(type)) headers["content-type"] = type;
  }
  const auth = int(6);
  if (auth <= 2) headers.authorization = `Bearer ${TOKEN}`;
  else if (auth === 3)
    headers.authorization = pick([
      "Bearer",
      "Bearer ",
      "bearer  x y",
      `Basic ${TOKEN}`,
      `Bearer ${"a".repeat(5_000)}`,
    ]);
  if (chance(0.2)) headers.origin = pick(["https://evil.example.com", "null", "http://localhost"]);
  if (chance(0.1)) headers["access-control-request-method"] = "POST";
  if (chance(0.1)) headers.accept = pick(["text/event-stream", "*/*", "application/xml"]);
  return send(url, { method, path, body, headers });
}

function send(
  url: string,
  {
    method,
    path,
    body,
    headers,
  }: { method: string; path: string; body: string | Buffer | undefined; headers: Record<string, string> },
): Promise<Outcome> {
  const where = `${method} ${path.slice(0, 120)} ${JSON.stringify(headers).slice(0, 200)} body=${body === undefined ? "none" : body.length}`;
  return new Promise((resolve, reject) => {
    // One connection per request: a reused keep-alive socket the server closes while idle would
    // show up as a reset that says nothing about the request being tested.
    const req = request(`${url}${path.startsWith("/") ? path : `/${path}`}`, {
      method,
      headers,
      timeout: 15_000,
      agent: false,
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => {
        if (chunks.length < 64) chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers["content-type"],
          body: Buffer.concat(chunks).toString("utf8"),
          where,
        }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within 15 s: ${where}`)));
    // A connection closed without an answer is a failure, except while sending a body far over the
    // limit, which the server may cut off once it has answered.
    req.on("error", (error: NodeJS.ErrnoException) => {
      const oversize = body !== undefined && body.length > 1_048_576;
      if (oversize && (error.code === "ECONNRESET" || error.code === "EPIPE"))
        resolve({ status: 0, contentType: undefined, body: "", where });
      else reject(new Error(`${error.code ?? ""} ${error.message}: ${where}`));
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const RAW = [
  () => `GET /v1/jobs/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`,
  () =>
    `POST /v1/tasks/demo.greet HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
  () =>
    `POST /v1/tasks/demo.greet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n`,
  () => `GET /${randomString(20)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `${randomString(10)} / HTTP/1.1\r\n\r\n`,
  () => `GET / HTTP/9.9\r\nHost: x\r\n\r\n`,
  () => `GET /healthz\r\n\r\n`,
  () => `GET /v1/queues HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`,
  () => `GET /v1/queues HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
  () => `GET /v1/queues HTTP/1.1\nHost: x\n\n`,
  () =>
    `POST /v1/tasks/demo.greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
  () =>
    `POST /v1/tasks/demo.greet HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 9999\r\n\r\n{"input":`,
  () => randomString(200),
  () => `\u0000\u0001\u0002GET / HTTP/1.1\r\n\r\n`,
  () => `GET /v1/jobs/\u00ff\u00fe HTTP/1.1\r\nHost: x\r\n\r\n`,
];

function rawRequest(port: number): Promise<Outcome> {
  const text = pick(RAW)();
  const where = `raw ${JSON.stringify(text.slice(0, 160))}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      const type = /\r\ncontent-type: ([^\r]+)/i.exec(received);
      resolve({
        status: status ? Number(status[1]) : 0,
        contentType: type?.[1],
        body: received.slice(received.indexOf("\r\n\r\n") + 4),
        where,
      });
    });
    socket.on("connect", () => {
      socket.write(Buffer.from(text, "latin1"));
      // Half-close: a request that waits for more body sees the end of the stream instead.
      socket.end();
    });
    socket.on("timeout", () => reject(new Error(`raw socket hung: ${where}`)));
  });
}

describe("fuzz", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(BACKEND, { server: { auth: { tokens: [TOKEN] } }, token: TOKEN });
  });
  afterAll(async () => {
    await h.close();
  });

  it(`answers ${TOTAL} malformed requests without a 5xx and stays healthy (${BACKEND}, seed ${SEED})`, {
    timeout: 240_000,
  }, async () => {
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const run = async () => {
      while (sent < TOTAL) {
        sent += 1;
        const outcome = chance(0.2) ? await rawRequest(h.server.port) : await httpRequest(h.url);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        if (outcome.status >= 500)
          failures.push(`${outcome.status} ${outcome.body.slice(0, 300)} <- ${outcome.where}`);
        const headOnly = outcome.where.startsWith("HEAD ") || outcome.where.startsWith('raw "HEAD');
        if (outcome.status >= 400 && outcome.contentType?.startsWith("application/json") && !headOnly) {
          const parsed = JSON.parse(outcome.body) as {
            error?: { code?: unknown; message?: unknown; details?: unknown };
          };
          if (
            typeof parsed.error?.code !== "string" ||
            typeof parsed.error.message !== "string" ||
            typeof parsed.error.details !== "object"
          )
            failures.push(`bad error shape ${outcome.body.slice(0, 200)} <- ${outcome.where}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, run));
    const summary = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(" ");
    console.log(`fuzz seed ${SEED}: ${sent} requests, statuses ${summary}`);

    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(2_000);
    // Answers of every kind were exercised, not only one error path.
    for (const status of [200, 202, 400, 401, 404, 405, 413, 415])
      expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);

    // Still healthy: probes pass and real work goes through.
    expect((await h.call("/healthz")).status).toBe(200);
    expect((await h.call("/readyz")).status).toBe(200);
    const done = await h.call("/v1/tasks/demo.greet?wait=5000", { json: { input: { name: "after" } } });
    expect(done.status).toBe(200);
    expect(((await done.json()) as { result: string }).result).toBe("hello after");
  });
});
