import type * as OtelApi from "@opentelemetry/api";
import type { JobRecord, NewJob } from "./contracts/job.js";
import type { JobHandler, Outcome } from "./contracts/queue.js";

// `@opentelemetry/api` is an optional peer dependency, loaded once on the first createConveyor():
// without it nothing here runs, and the core stays free of it. The types above are erased.
type Api = typeof OtelApi;

const TRACER_NAME = "@conveyor/core";
/** The `meta` keys the W3C propagator writes; a job whose meta has none of them has no parent. */
const TRACE_KEYS = ["traceparent", "tracestate", "baggage"] as const;

let loading: Promise<Api | undefined> | undefined;
let loaded: Api | undefined;
/** The no-op provider behind the API's proxy: while it is the delegate, no SDK is registered. */
let noopProvider: unknown;

async function importApi(): Promise<Api | undefined> {
  try {
    const mod = (await import("@opentelemetry/api")) as Api & { default?: Api };
    const api = typeof mod.trace?.getTracer === "function" ? mod : mod.default;
    if (!api || typeof api.trace?.getTracer !== "function") return undefined;
    noopProvider = new api.ProxyTracerProvider().getDelegate();
    loaded = api;
    return api;
  } catch {
    return undefined;
  }
}

/**
 * Loads `@opentelemetry/api` when it is installed (once per process); resolves to undefined
 * when it is not. Called by `createConveyor`, so the synchronous helpers below see it.
 */
export function loadTracingApi(): Promise<Api | undefined> {
  loading ??= importApi();
  return loading;
}

/** The tracer when an SDK has registered a tracer provider; undefined (and cheap) otherwise. */
function activeTracer(api: Api): OtelApi.Tracer | undefined {
  const provider = api.trace.getTracerProvider() as OtelApi.TracerProvider & {
    getDelegate?: () => unknown;
  };
  if (provider.getDelegate?.() === noopProvider) return undefined;
  return provider.getTracer(TRACER_NAME);
}

const messaging = (operation: "send" | "process", queue: string, task: string): OtelApi.Attributes => ({
  "messaging.system": "conveyor",
  "messaging.operation.type": operation,
  "messaging.operation.name": operation === "send" ? "enqueue" : "process",
  "messaging.destination.name": queue,
  "conveyor.task": task,
});

const fail = (span: OtelApi.Span, api: Api, error: { name?: string; message: string; stack?: string }) => {
  span.recordException({
    name: error.name ?? "Error",
    message: error.message,
    ...(error.stack ? { stack: error.stack } : {}),
  });
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
};

const asError = (error: unknown) =>
  error instanceof Error ? error : { name: "Error", message: String(error) };

/**
 * Runs an enqueue of `jobs` (already built, not yet stored) inside a `conveyor.enqueue <task>`
 * PRODUCER span and writes the span's W3C trace context into every job's `meta`, so the worker
 * that runs them continues the trace. Without an SDK it only calls `store`.
 */
export function traceEnqueue<R>(enabled: boolean, jobs: NewJob[], store: () => Promise<R>): Promise<R> {
  const api = loaded;
  const first = jobs[0];
  const tracer = enabled && api && first ? activeTracer(api) : undefined;
  // Not async, so an untraced enqueue costs no extra promise.
  if (!tracer || !api || !first) return store();
  return produce(api, tracer, first, jobs, store);
}

async function produce<R>(
  api: Api,
  tracer: OtelApi.Tracer,
  first: NewJob,
  jobs: NewJob[],
  store: () => Promise<R>,
): Promise<R> {
  const attributes = messaging("send", first.queue, first.task);
  if (jobs.length === 1) attributes["messaging.message.id"] = first.id;
  else attributes["messaging.batch.message_count"] = jobs.length;
  const span = tracer.startSpan(`conveyor.enqueue ${first.task}`, {
    kind: api.SpanKind.PRODUCER,
    attributes,
  });
  const ctx = api.trace.setSpan(api.context.active(), span);
  const carrier: Record<string, string> = {};
  api.propagation.inject(ctx, carrier);
  if (Object.keys(carrier).length > 0) for (const job of jobs) job.meta = { ...job.meta, ...carrier };
  try {
    return await api.context.with(ctx, store);
  } catch (error) {
    fail(span, api, asError(error));
    throw error;
  } finally {
    span.end();
  }
}

/** The context a job's producer left in its `meta`, or the root context when there is none. */
function parentOf(api: Api, record: JobRecord): OtelApi.Context {
  const meta = record.meta;
  if (!meta || !TRACE_KEYS.some((key) => meta[key] !== undefined)) return api.ROOT_CONTEXT;
  return api.propagation.extract(api.ROOT_CONTEXT, meta);
}

const finish = (api: Api, span: OtelApi.Span, outcome: Outcome) => {
  span.setAttribute("conveyor.job.outcome", outcome.type);
  if ((outcome.type === "failed" || outcome.type === "retry") && outcome.error)
    fail(span, api, outcome.error);
  else if (outcome.type === "cancelled" && outcome.error)
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome.error.message });
  span.end();
};

/**
 * Wraps the core's job handler so each attempt runs inside a `conveyor.process <task>` CONSUMER
 * span whose parent is the trace context stored with the job; the task's own spans nest under it.
 * While no SDK is registered each job costs one provider lookup.
 */
export function traceJobHandler(handler: JobHandler): JobHandler {
  return (job) => {
    const api = loaded;
    const tracer = api ? activeTracer(api) : undefined;
    if (!tracer || !api) return handler(job);
    const record = job.record;
    const parent = parentOf(api, record);
    const attributes = messaging("process", record.queue, record.task);
    attributes["messaging.message.id"] = record.id;
    attributes["conveyor.job.attempt"] = record.attempt;
    attributes["conveyor.job.max_attempts"] = record.maxAttempts;
    const span = tracer.startSpan(
      `conveyor.process ${record.task}`,
      { kind: api.SpanKind.CONSUMER, attributes },
      parent,
    );
    return api.context
      .with(api.trace.setSpan(parent, span), () => handler(job))
      .then(
        (outcome) => {
          finish(api, span, outcome);
          return outcome;
        },
        (error: unknown) => {
          fail(span, api, asError(error));
          span.end();
          throw error;
        },
      );
  };
}

/** A span as {@link traceOperation} hands it to the traced code; every method is a no-op when tracing is off. */
export interface TraceSpan {
  /** Whether the span is recorded (an SDK is registered). */
  readonly recording: boolean;
  /** Sets one attribute. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Renames the span, e.g. once the HTTP route is known. */
  updateName(name: string): void;
  /** Marks the span failed with this error (status ERROR and an exception event). */
  fail(error: unknown): void;
}

/** Options of {@link traceOperation}. */
export interface TraceOperationOptions {
  /**
   * The span kind: `"server"` for an incoming request, `"internal"` otherwise. A `"server"` span
   * that starts inside another span (an HTTP instrumentation's) becomes `"internal"`.
   * @defaultValue "internal"
   */
  kind?: "server" | "internal";
  /** Attributes set at start. */
  attributes?: Record<string, string | number | boolean>;
  /**
   * Incoming headers to continue a caller's trace from (W3C `traceparent`), read when no span is
   * active yet.
   */
  headers?: Record<string, string | string[] | undefined>;
}

const NO_SPAN: TraceSpan = {
  recording: false,
  setAttribute() {},
  updateName() {},
  fail() {},
};

const headerGetter: OtelApi.TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

/**
 * Runs `run` inside a span of Conveyor's tracer, active for everything `run` awaits (so a job
 * enqueued inside carries this trace to its worker), and ends it when `run` settles. It is how
 * `@conveyor/server` traces a request; without `@opentelemetry/api` and a registered SDK it only
 * calls `run` with a span whose methods do nothing.
 *
 * @example
 * ```ts
 * import { traceOperation } from "@conveyor/core";
 *
 * const answer = await traceOperation("nightly.import", {}, async (span) => {
 *   span.setAttribute("import.rows", 120);
 *   return "done";
 * });
 * ```
 */
export async function traceOperation<T>(
  name: string,
  options: TraceOperationOptions,
  run: (span: TraceSpan) => Promise<T>,
): Promise<T> {
  const api = loaded;
  const tracer = api ? activeTracer(api) : undefined;
  if (!tracer || !api) return run(NO_SPAN);
  let parent = api.context.active();
  const inside = api.trace.getSpan(parent) !== undefined;
  if (!inside && options.headers) parent = api.propagation.extract(parent, options.headers, headerGetter);
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind === "server" && !inside ? api.SpanKind.SERVER : api.SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    parent,
  );
  const handle: TraceSpan = {
    recording: span.isRecording(),
    setAttribute: (key, value) => {
      span.setAttribute(key, value);
    },
    updateName: (next) => {
      span.updateName(next);
    },
    fail: (error) => fail(span, api, asError(error)),
  };
  try {
    return await api.context.with(api.trace.setSpan(parent, span), () => run(handle));
  } catch (error) {
    handle.fail(error);
    throw error;
  } finally {
    span.end();
  }
}
