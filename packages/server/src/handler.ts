import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ConfigError,
  type Conveyor,
  isConveyorError,
  isTerminal,
  JobNotFoundError,
  JobStateError,
  type Logger,
  type RegisteredTask,
  type TraceSpan,
  traceOperation,
  UnknownTaskError,
  ValidationError,
} from "@conveyor/core";
import { Authenticator, type AuthOptions, type Principal } from "./auth.js";
import { errorBody, HttpError, statusForError } from "./errors.js";
import { readJsonBody, sendJson, sendText } from "./http.js";
import { taskSchemas } from "./json-schema.js";
import { ServerMetrics } from "./metrics.js";
import { buildOpenApi, type OpenApiOptions } from "./openapi.js";
import {
  intParam,
  jobDocument,
  jobLinks,
  parseBulk,
  parsePurge,
  parseSubmit,
  statesParam,
} from "./requests.js";
import { type RoutePattern, Router } from "./router.js";

/** Cross-origin access for browsers; off unless configured. */
export interface CorsOptions {
  /** Origins allowed to call the API (`"https://app.example.com"`), or `"*"` for any. */
  origins: readonly string[] | "*";
  /** How long a browser may cache a preflight answer, in seconds. @defaultValue 600 */
  maxAgeS?: number;
}

/** Options of {@link createConveyorHandler}. */
export interface ConveyorHandlerOptions {
  /** The platform the API serves (from `createConveyor`); the handler never closes it. */
  conveyor: Conveyor;
  /** Bearer tokens and per-token rate limits. @defaultValue tokens from `CONVEYOR_API_TOKENS`, no rate limit */
  auth?: AuthOptions;
  /** Largest request body accepted, in bytes; larger ones get 413. @defaultValue 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** Longest `?wait=` a submit may ask for, in ms. @defaultValue 30_000 */
  maxWaitMs?: number;
  /** Most items in one bulk submit. @defaultValue 1_000 */
  maxBulkItems?: number;
  /** Path prefix the API is mounted under, e.g. `"/conveyor"`. @defaultValue "" */
  basePath?: string;
  /** Cross-origin access. @defaultValue false (no CORS headers: browsers on other origins are refused) */
  cors?: CorsOptions | false;
  /** Serve Prometheus metrics at `/metrics`. @defaultValue true */
  metrics?: boolean;
  /** Interval of the comment lines that keep idle event streams open through proxies, in ms. @defaultValue 15_000 */
  sseKeepAliveMs?: number;
  /** How long `/readyz` waits for each backend, in ms. @defaultValue 2_000 */
  readyTimeoutMs?: number;
  /** What `/openapi.json` says about the API. */
  openapi?: OpenApiOptions;
  /** Where request failures are logged. @defaultValue the platform's logger */
  log?: Logger;
  /** Environment to read `CONVEYOR_API_TOKENS` from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * A request listener for Node's `http` (or `https`, `http2` compat) server that serves the
 * Conveyor API, created by {@link createConveyorHandler}.
 */
export interface ConveyorHandler {
  /** Answers one request; never throws (failures become JSON error answers). */
  (req: IncomingMessage, res: ServerResponse): void;
  /** Whether bearer tokens are required. */
  readonly authEnabled: boolean;
  /** The metrics, when enabled. */
  readonly metrics: ServerMetrics | undefined;
  /** Ends open event streams and stops listening to queue events. Safe to call more than once. */
  close(): Promise<void>;
}

const DEFAULTS = {
  maxBodyBytes: 1_048_576,
  maxWaitMs: 30_000,
  maxBulkItems: 1_000,
  basePath: "",
  cors: false,
  metrics: true,
  sseKeepAliveMs: 15_000,
  readyTimeoutMs: 2_000,
} satisfies Partial<ConveyorHandlerOptions>;

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
  /** Extra headers every answer carries (CORS, rate-limit state). */
  headers: Record<string, string>;
}

const NUMERIC_OPTIONS = [
  "maxBodyBytes",
  "maxWaitMs",
  "maxBulkItems",
  "sseKeepAliveMs",
  "readyTimeoutMs",
] as const;

function checkOptions(
  settings: ConveyorHandlerOptions & Record<(typeof NUMERIC_OPTIONS)[number], number>,
): void {
  if (!settings.conveyor || typeof settings.conveyor.enqueue !== "function") {
    throw new ConfigError("the API needs the platform: pass conveyor: await createConveyor(...).", {
      scope: "server",
    });
  }
  for (const key of [
    "maxBodyBytes",
    "maxWaitMs",
    "maxBulkItems",
    "sseKeepAliveMs",
    "readyTimeoutMs",
  ] as const) {
    const value = settings[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(
        `the API option ${key} must be a whole number of at least 1, got ${String(value)}.`,
        {
          scope: "server",
        },
      );
    }
  }
  const cors = settings.cors;
  if (
    cors !== false &&
    (typeof cors !== "object" || cors === null || !(cors.origins === "*" || Array.isArray(cors.origins)))
  ) {
    throw new ConfigError('the API option cors must be false or { origins: ["https://…"] | "*" }.', {
      scope: "server",
    });
  }
}

/**
 * Rewrites the issue paths of a task-input `ValidationError` so they point into the request body
 * (`input.name`, `items.2.input.name`) rather than into the input alone.
 */
function relocateIssues(task: string, relocate: (path: string) => string) {
  return (error: unknown): never => {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(
      `input of task "${task}"`,
      error.issues.map((issue) => ({ ...issue, path: relocate(issue.path) })),
      { cause: error },
    );
  };
}

/** Aborted when the client goes away before the answer is complete. */
function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}

const noop = () => {};

/**
 * Creates the HTTP API as a request listener for Node's `http` server. Mount it at the root of a
 * server, or under `basePath` in an existing app; see {@link startServer} to run one and
 * {@link conveyorFastify} for Fastify.
 *
 * Endpoints: `POST /v1/tasks/{name}` (and `/bulk`), `GET /v1/jobs`, `GET|DELETE /v1/jobs/{id}`,
 * `GET /v1/jobs/{id}/events` (SSE), `POST /v1/jobs/{id}/retry|cancel`, `GET /v1/queues`,
 * `GET /v1/queues/{name}`, `POST /v1/queues/{name}/pause|resume|purge`, `GET /v1/tasks`,
 * `GET /v1/tasks/{name}`, `GET /v1/workers`, `GET /v1/cache/stats`, `GET /healthz`,
 * `GET /readyz`, `GET /metrics`, `GET /openapi.json`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { createConveyor, defineTask } from "@conveyor/core";
 * import { createConveyorHandler } from "@conveyor/server";
 *
 * const add = defineTask({ name: "math.add", run: ({ a, b }: { a: number; b: number }) => a + b });
 * const conveyor = await createConveyor({ url: "memory://", tasks: [add] });
 * // Bearer tokens from CONVEYOR_API_TOKENS, or: auth: { tokens: ["<at least 16 characters>"] }
 * const handler = createConveyorHandler({ conveyor });
 * createServer(handler).listen(8400, "127.0.0.1");
 * ```
 */
export function createConveyorHandler(options: ConveyorHandlerOptions): ConveyorHandler {
  const settings = { ...DEFAULTS, ...options };
  checkOptions(settings);
  const { conveyor } = settings;
  const log = settings.log ?? conveyor.log;
  const base = settings.basePath.replace(/\/+$/, "");
  if (base && !base.startsWith("/")) {
    throw new ConfigError(
      `the API's basePath must start with "/", got "${base}". Write it like "/conveyor".`,
      {
        scope: "server",
      },
    );
  }
  const auth = new Authenticator(settings.auth, settings.env);
  const metrics = settings.metrics ? new ServerMetrics(conveyor, log) : undefined;
  const metricsStarted = metrics?.start().catch((error: unknown) => {
    log.warn("metrics: could not subscribe to queue events; throughput counters stay at 0", {
      error: String(error),
    });
  });
  const streams = new Set<AbortController>();
  let closed = false;
  const startedAt = Date.now();
  let limiterWarnedAt = 0;

  const findTask = (name: string): RegisteredTask => {
    const found = conveyor.tasks().find((t) => t.name === name);
    if (!found)
      throw new UnknownTaskError(
        name,
        conveyor.tasks().map((t) => t.name),
      );
    return found;
  };
  const taskDocument = (registered: RegisteredTask) => {
    const { task } = registered;
    const { input, output } = taskSchemas(task);
    return {
      name: registered.name,
      queue: registered.queue,
      ...(registered.description ? { description: registered.description } : {}),
      ...(registered.plugin ? { plugin: registered.plugin } : {}),
      retries: task.retries ?? 0,
      ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
      ...(task.priority !== undefined ? { priority: task.priority } : {}),
      inputSchema: input.schema,
      outputSchema: output.schema,
      schema: {
        input: input.source,
        output: output.source,
        ...(input.vendor ? { vendor: input.vendor } : {}),
        ...(input.error ? { inputError: input.error } : {}),
        ...(output.error ? { outputError: output.error } : {}),
      },
      links: { submit: `${base}/v1/tasks/${encodeURIComponent(registered.name)}` },
    };
  };
  const queueDocument = async (name: string) => {
    const [queues, counts] = await Promise.all([conveyor.queues(), conveyor.counts(name)]);
    return { name, paused: queues.find((q) => q.name === name)?.paused ?? false, counts };
  };
  const getJob = async (id: string) => {
    const record = await conveyor.queue.getJob(id);
    if (!record) throw new JobNotFoundError(id);
    return record;
  };
  const reply = (ctx: Context, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(ctx.res, status, body, { ...ctx.headers, ...headers });
  const body = (ctx: Context) => readJsonBody(ctx.req, settings.maxBodyBytes);

  const withTimeout = <T>(what: string, work: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what} did not answer within ${settings.readyTimeoutMs} ms`)),
        settings.readyTimeoutMs,
      );
      work().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });

  const routes: RoutePattern<Context>[] = [
    {
      method: "GET",
      pattern: "/healthz",
      public: true,
      async run(ctx) {
        reply(ctx, closed ? 503 : 200, {
          status: closed ? "closing" : "ok",
          uptimeMs: Date.now() - startedAt,
        });
      },
    },
    {
      method: "GET",
      pattern: "/readyz",
      public: true,
      async run(ctx) {
        type Check = { ok: boolean; latencyMs?: number; error?: string };
        const probe = async (name: string, work: () => Promise<unknown>): Promise<[string, Check]> => {
          const started = performance.now();
          try {
            await withTimeout(name, work);
            return [name, { ok: true, latencyMs: Math.round(performance.now() - started) }];
          } catch (error) {
            log.warn("readiness: a backend did not answer", { backend: name, error: String(error) });
            return [name, { ok: false, error: (error as Error)?.message ?? String(error) }];
          }
        };
        const results = await Promise.all([
          probe("queue", () => conveyor.queue.queues()),
          probe("cache", () => conveyor.cache.has("conveyor:readyz")),
          probe("rateLimiter", () =>
            conveyor.rateLimiter.peek("conveyor:readyz", { points: 1, durationMs: 1_000 }),
          ),
        ]);
        const checks = Object.fromEntries(results);
        const ready = !closed && results.every(([, c]) => c.ok);
        reply(ctx, ready ? 200 : 503, { status: ready ? "ready" : "unavailable", checks });
      },
    },
    {
      method: "GET",
      pattern: "/metrics",
      async run(ctx) {
        if (!metrics)
          throw new HttpError(404, "NOT_FOUND", "metrics are turned off on this server (metrics: false).");
        const { contentType, text } = await metrics.render();
        sendText(ctx.res, 200, contentType, text, ctx.headers);
      },
    },
    {
      method: "GET",
      pattern: "/openapi.json",
      async run(ctx) {
        reply(
          ctx,
          200,
          buildOpenApi(conveyor.tasks(), { ...settings.openapi, basePath: base, auth: auth.enabled }),
        );
      },
    },
    {
      method: "GET",
      pattern: "/v1/tasks",
      async run(ctx) {
        reply(ctx, 200, { tasks: conveyor.tasks().map(taskDocument) });
      },
    },
    {
      method: "GET",
      pattern: "/v1/tasks/:name",
      async run(ctx) {
        reply(ctx, 200, taskDocument(findTask(ctx.params.name!)));
      },
    },
    {
      method: "POST",
      pattern: "/v1/tasks/:name",
      async run(ctx) {
        const task = findTask(ctx.params.name!);
        const wait = intParam(ctx.query, "wait", { min: 0, max: settings.maxWaitMs }) ?? 0;
        const { input, options } = parseSubmit(await body(ctx));
        const job = await conveyor
          .enqueue(task.name, input, options)
          .catch(relocateIssues(task.name, (path) => `input${path ? `.${path}` : ""}`));
        if (wait > 0) {
          const signal = clientGone(ctx.res);
          try {
            await job.result({ timeoutMs: wait, signal });
          } catch (error) {
            if (signal.aborted) return;
            // A failed, cancelled or still running job is still a valid answer: its document says which.
            if (!isConveyorError(error) || !["JOB_FAILED", "JOB_CANCELLED", "TIMEOUT"].includes(error.code))
              throw error;
          }
        }
        const record = await job.get();
        const status = wait > 0 && isTerminal(record.state) ? 200 : 202;
        reply(
          ctx,
          status,
          { ...jobDocument(record, base), created: job.created },
          { location: jobLinks(base, job.id).self },
        );
      },
    },
    {
      method: "POST",
      pattern: "/v1/tasks/:name/bulk",
      async run(ctx) {
        const task = findTask(ctx.params.name!);
        const items = parseBulk(await body(ctx), settings.maxBulkItems);
        const jobs = await conveyor.enqueueMany(task.name, items).catch(
          relocateIssues(task.name, (path) => {
            // The core names bulk items "[i].path"; the API names fields from the body's root.
            const found = /^\[(\d+)\]\.?(.*)$/.exec(path);
            return found ? `items.${found[1]}.input${found[2] ? `.${found[2]}` : ""}` : path;
          }),
        );
        reply(ctx, 202, {
          jobs: jobs.map((job) => ({
            id: job.id,
            queue: job.queue,
            task: job.task,
            created: job.created,
            links: jobLinks(base, job.id),
          })),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/jobs",
      async run(ctx) {
        const states = statesParam(ctx.query.get("state"), 'the query parameter "state"');
        const queue = ctx.query.get("queue");
        const jobs = await conveyor.listJobs({
          ...(queue ? { queue } : {}),
          ...(states ? { states } : {}),
          limit: intParam(ctx.query, "limit", { min: 1, max: 1_000 }) ?? 100,
          offset: intParam(ctx.query, "offset", { min: 0, max: 1_000_000 }) ?? 0,
        });
        reply(ctx, 200, { jobs: jobs.map((j) => jobDocument(j, base)) });
      },
    },
    {
      method: "GET",
      pattern: "/v1/jobs/:id",
      async run(ctx) {
        reply(ctx, 200, jobDocument(await getJob(ctx.params.id!), base));
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/jobs/:id",
      async run(ctx) {
        const id = ctx.params.id!;
        if (await conveyor.remove(id)) {
          ctx.res.writeHead(204, ctx.headers).end();
          return;
        }
        const record = await getJob(id);
        throw new JobStateError(
          id,
          record.state,
          "deleted",
          "waiting, delayed, retrying, completed, failed or cancelled",
        );
      },
    },
    {
      method: "GET",
      pattern: "/v1/jobs/:id/events",
      async run(ctx) {
        const handle = conveyor.job(ctx.params.id!);
        const record = await handle.get();
        const sseHeaders = {
          ...ctx.headers,
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        };
        // A browser's EventSource reconnects after every end of stream, sending the last id it saw;
        // 204 is the one answer that makes it stop, so a finished job's stream is not replayed forever.
        if (ctx.req.headers["last-event-id"] !== undefined && isTerminal(record.state)) {
          ctx.res.writeHead(204, ctx.headers).end();
          return;
        }
        // A HEAD has no body to stream: answering at once keeps it from hanging until the job ends.
        if (ctx.req.method === "HEAD") {
          ctx.res.writeHead(200, sseHeaders).end();
          return;
        }
        const controller = new AbortController();
        streams.add(controller);
        ctx.res.once("close", () => controller.abort(new Error("client disconnected")));
        ctx.res.writeHead(200, sseHeaders);
        let seq = 0;
        const send = (event: string, data: unknown) => {
          seq += 1;
          ctx.res.write(`id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        ctx.res.write("retry: 3000\n\n");
        send("snapshot", jobDocument(record, base));
        const keepAlive = setInterval(() => ctx.res.write(": keep-alive\n\n"), settings.sseKeepAliveMs);
        keepAlive.unref();
        try {
          for await (const event of handle.events({ signal: controller.signal })) send(event.type, event);
        } catch (error) {
          if (!controller.signal.aborted) {
            log.warn("event stream failed", { jobId: record.id, error: String(error) });
            send("error", errorBody(error).error);
          }
        } finally {
          clearInterval(keepAlive);
          streams.delete(controller);
          ctx.res.end();
        }
      },
    },
    {
      method: "POST",
      pattern: "/v1/jobs/:id/retry",
      async run(ctx) {
        reply(ctx, 200, jobDocument(await conveyor.retry(ctx.params.id!), base));
      },
    },
    {
      method: "POST",
      pattern: "/v1/jobs/:id/cancel",
      async run(ctx) {
        const id = ctx.params.id!;
        const result = await conveyor.cancel(id);
        if (result === "not-found") throw new JobNotFoundError(id);
        const record = await conveyor.queue.getJob(id);
        reply(ctx, 200, { result, ...(record ? { job: jobDocument(record, base) } : {}) });
      },
    },
    {
      method: "GET",
      pattern: "/v1/queues",
      async run(ctx) {
        const queues = await conveyor.queues();
        const counts = await Promise.all(queues.map((q) => conveyor.counts(q.name)));
        reply(ctx, 200, {
          queues: queues.map((q, i) => ({ name: q.name, paused: q.paused, counts: counts[i] })),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/queues/:name",
      async run(ctx) {
        reply(ctx, 200, await queueDocument(ctx.params.name!));
      },
    },
    {
      method: "POST",
      pattern: "/v1/queues/:name/pause",
      async run(ctx) {
        await conveyor.pause(ctx.params.name!);
        reply(ctx, 200, await queueDocument(ctx.params.name!));
      },
    },
    {
      method: "POST",
      pattern: "/v1/queues/:name/resume",
      async run(ctx) {
        await conveyor.resume(ctx.params.name!);
        reply(ctx, 200, await queueDocument(ctx.params.name!));
      },
    },
    {
      method: "POST",
      pattern: "/v1/queues/:name/purge",
      async run(ctx) {
        const purge = parsePurge(await body(ctx));
        const removed = await conveyor.purge(ctx.params.name!, purge);
        reply(ctx, 200, { queue: ctx.params.name, removed });
      },
    },
    {
      method: "GET",
      pattern: "/v1/workers",
      async run(ctx) {
        const now = Date.now();
        const workers = await conveyor.workers();
        reply(ctx, 200, { workers: workers.map((w) => ({ ...w, uptimeMs: now - w.startedAt })) });
      },
    },
    {
      method: "GET",
      pattern: "/v1/cache/stats",
      async run(ctx) {
        reply(ctx, 200, await conveyor.cache.stats());
      },
    },
  ];
  const router = new Router(routes);

  const corsHeaders = (req: IncomingMessage): Record<string, string> | undefined => {
    const cors = settings.cors;
    const origin = req.headers.origin;
    if (!cors || typeof origin !== "string") return undefined;
    const any = cors.origins === "*";
    if (!any && !(cors.origins as readonly string[]).includes(origin)) return undefined;
    return {
      "access-control-allow-origin": any ? "*" : origin,
      ...(any ? {} : { vary: "origin" }),
      "access-control-expose-headers":
        "location, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset",
    };
  };

  const rateLimit = async (principal: Principal, headers: Record<string, string>) => {
    const limit = principal.rateLimit;
    if (!limit) return;
    let answer: Awaited<ReturnType<typeof conveyor.rateLimiter.consume>>;
    try {
      answer = await conveyor.rateLimiter.consume(principal.key, limit);
    } catch (error) {
      // An unreachable limiter must not take the API down with it: requests pass, loudly.
      if (Date.now() - limiterWarnedAt > 60_000) {
        limiterWarnedAt = Date.now();
        log.warn("rate limiter unavailable; API requests are not limited until it answers", {
          error: String(error),
        });
      }
      return;
    }
    const resetS = String(Math.ceil(answer.resetMs / 1000));
    headers["ratelimit-limit"] = String(limit.points);
    headers["ratelimit-remaining"] = String(answer.remaining);
    headers["ratelimit-reset"] = resetS;
    if (!answer.allowed) {
      metrics?.rateLimitRejected(principal.name);
      throw new HttpError(
        429,
        "RATE_LIMITED",
        `too many requests for token "${principal.name}": ${limit.points} per ${limit.durationMs} ms. Wait ${answer.resetMs} ms (Retry-After) and try again.`,
        {
          retryable: true,
          headers: { "retry-after": resetS },
          details: { resetMs: answer.resetMs, points: limit.points, durationMs: limit.durationMs },
        },
      );
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, started: number, span: TraceSpan) => {
    let route = "unmatched";
    const headers: Record<string, string> = {};
    // "close" rather than "finish": an event stream the client ends never finishes, and counts too.
    res.once("close", () => {
      metrics?.request(req.method ?? "UNKNOWN", route, res.statusCode, (performance.now() - started) / 1000);
    });
    try {
      Object.assign(headers, corsHeaders(req));
      const raw = req.url ?? "/";
      const queryAt = raw.indexOf("?");
      let path = queryAt === -1 ? raw : raw.slice(0, queryAt);
      const query = new URLSearchParams(queryAt === -1 ? "" : raw.slice(queryAt + 1));
      if (!path.startsWith("/"))
        throw new HttpError(400, "BAD_REQUEST", "the request target must be a path starting with /.");
      if (base) {
        if (path !== base && !path.startsWith(`${base}/`))
          throw new HttpError(
            404,
            "NOT_FOUND",
            `no endpoint at ${path.slice(0, 200)}; this API lives under ${base}.`,
          );
        path = path.slice(base.length) || "/";
      }
      const method = req.method ?? "GET";
      if (
        method === "OPTIONS" &&
        headers["access-control-allow-origin"] &&
        req.headers["access-control-request-method"]
      ) {
        res.writeHead(204, {
          ...headers,
          "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
          "access-control-allow-headers": "authorization, content-type, last-event-id",
          "access-control-max-age": String(settings.cors ? (settings.cors.maxAgeS ?? 600) : 600),
        });
        res.end();
        return;
      }
      const match = router.match(method, path);
      route = match.route.pattern;
      span.updateName(`${method} ${route}`);
      span.setAttribute("http.route", route);
      const principal = match.route.public
        ? { name: "probe", key: "", rateLimit: undefined }
        : auth.authenticate(req);
      if (!match.route.public) await rateLimit(principal, headers);
      await match.route.run({ req, res, params: match.params, query, principal, headers });
    } catch (error) {
      const status = statusForError(error);
      if (status >= 500) span.fail(error);
      if (status >= 500)
        log.error("request failed", {
          method: req.method,
          url: req.url?.slice(0, 200),
          error: (error as Error)?.stack ?? String(error),
        });
      if (res.headersSent) {
        res.end();
        return;
      }
      sendJson(res, status, errorBody(error), {
        ...headers,
        ...(error instanceof HttpError ? error.headers : {}),
      });
    }
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    // A client that resets the connection makes these streams emit 'error'; there is nobody left
    // to answer, and an unhandled 'error' event would end the process.
    req.on("error", noop);
    res.on("error", noop);
    const started = performance.now();
    // The request's span is active while the route runs, so a job it enqueues carries this trace.
    void traceOperation(
      req.method ?? "HTTP",
      { kind: "server", headers: req.headers, attributes: { "http.request.method": req.method ?? "" } },
      async (span) => {
        await handle(req, res, started, span);
        span.setAttribute("http.response.status_code", res.statusCode);
      },
    );
  }) as ConveyorHandler;
  Object.defineProperties(handler, {
    authEnabled: { get: () => auth.enabled },
    metrics: { value: metrics },
    close: {
      value: async () => {
        closed = true;
        for (const stream of streams) stream.abort(new Error("server closing"));
        await metricsStarted;
        await metrics?.close();
      },
    },
  });
  return handler;
}
