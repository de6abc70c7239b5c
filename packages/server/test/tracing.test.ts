import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type BackendKind, type Harness, startHarness } from "./support.js";

// The SDK an app would register: global provider, W3C propagator, AsyncLocalStorage context.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function waitForSpan(name: string): Promise<ReadableSpan> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [span] = named(name);
    if (span) return span;
    if (Date.now() > deadline) throw new Error(`no "${name}" span within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each<BackendKind>(["memory", "disk"])("tracing through the HTTP API on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    exporter.reset();
  });

  it("POST /v1/tasks/{name} → enqueue → worker is one trace", async () => {
    const response = await h.call("/v1/tasks/demo.greet", { json: { input: { name: "Ada" } } });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(await h.conveyor.job(id).result({ timeoutMs: 10_000 })).toBe("hello Ada");

    const request = await waitForSpan("POST /v1/tasks/:name");
    const enqueue = await waitForSpan("conveyor.enqueue demo.greet");
    const process = await waitForSpan("conveyor.process demo.greet");
    const traceId = request.spanContext().traceId;
    expect(enqueue.spanContext().traceId).toBe(traceId);
    expect(process.spanContext().traceId).toBe(traceId);
    expect(parentId(request)).toBeUndefined();
    expect(parentId(enqueue)).toBe(request.spanContext().spanId);
    expect(parentId(process)).toBe(enqueue.spanContext().spanId);

    expect(request.kind).toBe(SpanKind.SERVER);
    expect(request.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/tasks/:name",
      "http.response.status_code": 202,
    });
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.attributes).toMatchObject({ "messaging.message.id": id, "conveyor.job.attempt": 1 });
  });

  it("continues the caller's trace from its traceparent header, through ?wait= and a failing job", async () => {
    const callerTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const response = await h.call("/v1/tasks/demo.explode?wait=5000", {
      json: { input: { message: "boom" } },
      headers: { traceparent: `00-${callerTraceId}-${callerSpanId}-01` },
    });
    expect(response.status).toBe(200);

    const request = await waitForSpan("POST /v1/tasks/:name");
    const enqueue = await waitForSpan("conveyor.enqueue demo.explode");
    const process = await waitForSpan("conveyor.process demo.explode");
    for (const span of [request, enqueue, process]) expect(span.spanContext().traceId).toBe(callerTraceId);
    expect(parentId(request)).toBe(callerSpanId);
    expect(parentId(process)).toBe(enqueue.spanContext().spanId);
    expect(process.status).toEqual({ code: SpanStatusCode.ERROR, message: "boom" });
    expect(process.attributes["conveyor.job.outcome"]).toBe("failed");
    // The job failed, the request did not: the API answered it.
    expect(request.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("a refused request is a span with its status code and no job spans", async () => {
    const response = await h.call("/v1/tasks/demo.unknown", { json: { input: {} } });
    expect(response.status).toBe(404);
    const request = await waitForSpan("POST /v1/tasks/:name");
    expect(request.attributes["http.response.status_code"]).toBe(404);
    expect(exporter.getFinishedSpans().filter((s) => s.name.startsWith("conveyor."))).toEqual([]);
  });
});
