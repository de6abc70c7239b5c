import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conveyor, createConveyor, defineTask } from "@conveyor/core";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

// One SDK for the whole file, registered the way an app does it (global provider, W3C
// propagator, AsyncLocalStorage context); vitest runs each file in its own worker.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const add = defineTask({
  name: "math.add",
  run: async ({ a, b }: { a: number; b: number }) => {
    // A span the task opens itself must land under the worker's span.
    await trace.getTracer("test").startActiveSpan("math.add.inner", async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      span.end();
    });
    return a + b;
  },
});
const flaky = defineTask({
  name: "math.flaky",
  retries: 1,
  backoff: { type: "fixed", delayMs: 1 },
  run: (_input: unknown, ctx) => {
    if (ctx.attempt === 1) throw new Error("first attempt fails");
    return "ok";
  },
});
const broken = defineTask({
  name: "math.broken",
  run: () => {
    throw new Error("always fails");
  },
});

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function waitForSpans(name: string, count: number): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 10_000;
  while (spansNamed(name).length < count) {
    if (Date.now() > deadline)
      throw new Error(`expected ${count} "${name}" spans, got ${spansNamed(name).length}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return spansNamed(name);
}

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

const folders: string[] = [];
const backends = [
  { name: "memory", urls: () => ({ url: "memory://" }) },
  {
    name: "disk",
    urls: () => {
      const folder = mkdtempSync(join(tmpdir(), "conveyor-tracing-"));
      folders.push(folder);
      // The disk adapter has no rate limiter; the queue is what carries the trace here.
      return { queue: `disk://${folder}`, cache: `disk://${folder}`, rateLimiter: "memory://" };
    },
  },
];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe.each(backends)("tracing on $name", (backend) => {
  let conveyor: Conveyor;
  beforeEach(async () => {
    exporter.reset();
    conveyor = await createConveyor({
      ...backend.urls(),
      tasks: [add, flaky, broken],
      logger: false,
      heartbeat: false,
      env: false,
    });
  });
  afterEach(async () => {
    await conveyor.close();
  });

  it("enqueue and process share one trace; the worker span's parent is the enqueue span", async () => {
    const worker = conveyor.worker({ concurrency: 2 });
    const job = await trace.getTracer("test").startActiveSpan("request", async (root) => {
      try {
        return await conveyor.enqueue(add, { a: 2, b: 3 });
      } finally {
        root.end();
      }
    });
    expect(await job.result({ timeoutMs: 10_000 })).toBe(5);
    await worker.close();

    const [root] = spansNamed("request");
    const [enqueue] = spansNamed("conveyor.enqueue math.add");
    const [process] = await waitForSpans("conveyor.process math.add", 1);
    const [inner] = spansNamed("math.add.inner");
    expect(root && enqueue && process && inner).toBeTruthy();
    const traceId = root!.spanContext().traceId;
    for (const span of [enqueue!, process!, inner!]) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentId(enqueue!)).toBe(root!.spanContext().spanId);
    expect(parentId(process!)).toBe(enqueue!.spanContext().spanId);
    expect(parentId(inner!)).toBe(process!.spanContext().spanId);

    expect(enqueue!.kind).toBe(SpanKind.PRODUCER);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(enqueue!.attributes).toMatchObject({
      "messaging.system": "conveyor",
      "messaging.operation.type": "send",
      "messaging.destination.name": "default",
      "messaging.message.id": job.id,
      "conveyor.task": "math.add",
    });
    expect(process!.attributes).toMatchObject({
      "messaging.operation.type": "process",
      "messaging.destination.name": "default",
      "messaging.message.id": job.id,
      "conveyor.job.attempt": 1,
      "conveyor.job.outcome": "completed",
    });
    expect(process!.status.code).not.toBe(SpanStatusCode.ERROR);

    // The context travels inside the stored job, as W3C trace context in its meta.
    const stored = await conveyor.queue.getJob(job.id);
    expect(stored?.meta?.traceparent).toBe(`00-${traceId}-${enqueue!.spanContext().spanId}-01`);
  });

  it("each attempt is a span of the producer's trace; failures carry status and exception", async () => {
    const worker = conveyor.worker();
    const retried = await conveyor.enqueue(flaky, {});
    const failing = await conveyor.enqueue(broken, {});
    expect(await retried.result({ timeoutMs: 10_000 })).toBe("ok");
    await expect(failing.result({ timeoutMs: 10_000 })).rejects.toThrow("always fails");
    await worker.close();

    const [enqueueFlaky] = spansNamed("conveyor.enqueue math.flaky");
    const attempts = (await waitForSpans("conveyor.process math.flaky", 2)).sort(
      (a, b) => Number(a.attributes["conveyor.job.attempt"]) - Number(b.attributes["conveyor.job.attempt"]),
    );
    expect(attempts.map((s) => s.attributes["conveyor.job.attempt"])).toEqual([1, 2]);
    for (const attempt of attempts) {
      expect(attempt.spanContext().traceId).toBe(enqueueFlaky!.spanContext().traceId);
      expect(parentId(attempt)).toBe(enqueueFlaky!.spanContext().spanId);
    }
    expect(attempts[0]!.attributes["conveyor.job.outcome"]).toBe("retry");
    expect(attempts[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: "first attempt fails" });
    expect(attempts[0]!.events.find((e) => e.name === "exception")?.attributes).toMatchObject({
      "exception.type": "Error",
      "exception.message": "first attempt fails",
    });
    expect(attempts[1]!.attributes["conveyor.job.outcome"]).toBe("completed");

    const [failed] = await waitForSpans("conveyor.process math.broken", 1);
    expect(failed!.attributes["conveyor.job.outcome"]).toBe("failed");
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("a bulk enqueue is one span whose context every job carries", async () => {
    const worker = conveyor.worker({ concurrency: 4 });
    const jobs = await conveyor.enqueueMany(add, [
      { input: { a: 1, b: 1 } },
      { input: { a: 2, b: 2 } },
      { input: { a: 3, b: 3 } },
    ]);
    expect(await Promise.all(jobs.map((j) => j.result({ timeoutMs: 10_000 })))).toEqual([2, 4, 6]);
    await worker.close();
    const [enqueue] = spansNamed("conveyor.enqueue math.add");
    expect(enqueue!.attributes["messaging.batch.message_count"]).toBe(3);
    const processed = await waitForSpans("conveyor.process math.add", 3);
    expect(new Set(processed.map((s) => s.attributes["messaging.message.id"]))).toEqual(
      new Set(jobs.map((j) => j.id)),
    );
    for (const span of processed) expect(parentId(span)).toBe(enqueue!.spanContext().spanId);
  });
});

describe("tracing off", () => {
  it("tracing: false records nothing and stores no trace context", async () => {
    exporter.reset();
    const conveyor = await createConveyor({
      tasks: [add],
      logger: false,
      heartbeat: false,
      env: false,
      tracing: false,
    });
    try {
      const worker = conveyor.worker();
      const job = await conveyor.enqueue(add, { a: 1, b: 2 });
      expect(await job.result({ timeoutMs: 10_000 })).toBe(3);
      await worker.close();
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(["math.add.inner"]);
      expect((await conveyor.queue.getJob(job.id))?.meta).toBeUndefined();
      // The task's own span has no Conveyor parent to hang from.
      expect(parentId(exporter.getFinishedSpans()[0]!)).toBeUndefined();
    } finally {
      await conveyor.close();
    }
  });

  it("without a registered SDK jobs run untraced and keep the caller's meta as given", async () => {
    const conveyor = await createConveyor({ tasks: [add], logger: false, heartbeat: false, env: false });
    trace.disable();
    try {
      exporter.reset();
      const worker = conveyor.worker();
      const job = await conveyor.enqueue(add, { a: 4, b: 5 }, { meta: { source: "test" } });
      expect(await job.result({ timeoutMs: 10_000 })).toBe(9);
      await worker.close();
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect((await conveyor.queue.getJob(job.id))?.meta).toEqual({ source: "test" });
    } finally {
      trace.setGlobalTracerProvider(provider);
      await conveyor.close();
    }
  });
});
