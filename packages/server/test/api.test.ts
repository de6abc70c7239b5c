import { request } from "node:http";
import { waitFor } from "@conveyor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackendKind, type Harness, readEventStream, startHarness } from "./support.js";

type Json = Record<string, any>;

describe.each<BackendKind>(["memory", "disk", "redis"])("HTTP API on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h.close();
  });

  const json = async (response: Response): Promise<Json> => (await response.json()) as Json;

  it("submits a task: 202 with the job id, links and Location", async () => {
    const response = await h.call("/v1/tasks/demo.greet", { json: { input: { name: "Ada" } } });
    expect(response.status).toBe(202);
    const body = await json(response);
    expect(body).toMatchObject({ task: "demo.greet", queue: "default", created: true });
    expect(body.id).toEqual(expect.any(String));
    expect(body.links.self).toBe(`/v1/jobs/${body.id}`);
    expect(response.headers.get("location")).toBe(`/v1/jobs/${body.id}`);

    await waitFor(async () => (await json(await h.call(body.links.self))).state === "completed");
    const job = await json(await h.call(body.links.self));
    expect(job).toMatchObject({
      id: body.id,
      state: "completed",
      result: "hello Ada",
      input: { name: "Ada" },
    });
  });

  it("?wait answers 200 with the result of small work, and the error of a failed job", async () => {
    const done = await h.call("/v1/tasks/demo.greet?wait=5000", {
      json: { input: { name: "Bo", times: 2 } },
    });
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ state: "completed", result: "hello Bohello Bo" });

    const failed = await h.call("/v1/tasks/demo.explode?wait=5000", { json: { input: { message: "boom" } } });
    expect(failed.status).toBe(200);
    const body = await json(failed);
    expect(body.state).toBe("failed");
    expect(body.error).toMatchObject({ name: "Error", message: "boom", attempt: 1 });
  });

  it("?wait that runs out answers 202 and the job keeps running", async () => {
    const response = await h.call("/v1/tasks/demo.slow?wait=50", { json: { input: { ms: 400 } } });
    expect(response.status).toBe(202);
    const body = await json(response);
    expect(["waiting", "active"]).toContain(body.state);
    await waitFor(async () => (await json(await h.call(body.links.self))).state === "completed");
  });

  it("dedupes by jobId", async () => {
    const first = await json(
      await h.call("/v1/tasks/demo.greet", { json: { input: { name: "x" }, jobId: `dup-${kind}` } }),
    );
    const second = await json(
      await h.call("/v1/tasks/demo.greet", { json: { input: { name: "y" }, jobId: `dup-${kind}` } }),
    );
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ id: `dup-${kind}`, created: false, input: { name: "x" } });
  });

  it("bulk submits, and enqueues nothing when one item is invalid", async () => {
    const ok = await h.call("/v1/tasks/demo.greet/bulk", {
      json: { items: [{ input: { name: "a" } }, { input: { name: "b" }, priority: 0 }] },
    });
    expect(ok.status).toBe(202);
    const { jobs } = await json(ok);
    expect(jobs).toHaveLength(2);
    for (const job of jobs) expect(job.links.self).toBe(`/v1/jobs/${job.id}`);

    const before = (await h.conveyor.listJobs({ limit: 1000 })).length;
    const bad = await h.call("/v1/tasks/demo.greet/bulk", {
      json: { items: [{ input: { name: "ok" } }, { input: { name: "" } }, { input: {} }] },
    });
    expect(bad.status).toBe(400);
    const error = (await json(bad)).error;
    expect(error.code).toBe("VALIDATION");
    expect(error.details.issues.map((i: Json) => i.path)).toEqual([
      "items.1.input.name",
      "items.2.input.name",
    ]);
    const envelope = await h.call("/v1/tasks/demo.greet/bulk", {
      json: { items: [{ input: { name: "ok" }, colour: "red" }, "text"] },
    });
    expect(envelope.status).toBe(400);
    const envelopeIssues = (await json(envelope)).error.details.issues.map((i: Json) => i.path);
    expect(envelopeIssues).toEqual(["items.0.colour", "items.1"]);
    expect((await h.conveyor.listJobs({ limit: 1000 })).length).toBe(before);
  });

  it("answers 400 listing every schema issue", async () => {
    const response = await h.call("/v1/tasks/demo.greet", { json: { input: { name: "", times: 99 } } });
    expect(response.status).toBe(400);
    const { error } = await json(response);
    expect(error.code).toBe("VALIDATION");
    expect(error.message).toMatch(/^\[conveyor\] input of task "demo.greet" is invalid/);
    expect(error.details.issues.map((i: Json) => i.path).sort()).toEqual(["input.name", "input.times"]);
  });

  it("answers 400 for bad submit fields, naming them", async () => {
    const response = await h.call("/v1/tasks/demo.greet", {
      json: { input: { name: "a" }, delayMs: -1, colour: "red", meta: { a: 1 } },
    });
    expect(response.status).toBe(400);
    const { error } = await json(response);
    expect(error.details.issues.map((i: Json) => i.path).sort()).toEqual(["colour", "delayMs", "meta"]);
  });

  it("answers 404 for an unknown task, job or endpoint, 405 for a wrong method", async () => {
    const task = await h.call("/v1/tasks/demo.nope", { json: { input: {} } });
    expect(task.status).toBe(404);
    const taskError = (await json(task)).error;
    expect(taskError.code).toBe("UNKNOWN_TASK");
    expect(taskError.message).toContain("demo.greet");

    const job = await h.call("/v1/jobs/does-not-exist");
    expect(job.status).toBe(404);
    expect((await json(job)).error).toMatchObject({
      code: "JOB_NOT_FOUND",
      details: { jobId: "does-not-exist" },
    });

    const endpoint = await h.call("/v2/anything");
    expect(endpoint.status).toBe(404);
    expect((await json(endpoint)).error.code).toBe("NOT_FOUND");

    const method = await h.call("/v1/jobs/x", { method: "PUT" });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("DELETE, GET, HEAD");
  });

  it("answers 400 for bad JSON and 415 for a body that is not JSON", async () => {
    const bad = await h.call("/v1/tasks/demo.greet", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"input": {"name": "a"',
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("BAD_JSON");

    const form = await h.call("/v1/tasks/demo.greet", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "name=a",
    });
    expect(form.status).toBe(415);
    expect((await json(form)).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");

    const notUtf8 = await h.call("/v1/tasks/demo.greet", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expect(notUtf8.status).toBe(400);
  });

  it("answers 413 for an oversize body, announced or streamed", async () => {
    const big = JSON.stringify({ input: { name: "x".repeat(1_100_000) } });
    const announced = await h.call("/v1/tasks/demo.greet", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(announced.status).toBe(413);
    expect((await json(announced)).error).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      details: { maxBodyBytes: 1_048_576 },
    });

    // Chunked, without Content-Length: the limit is enforced while reading.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${h.url}/v1/tasks/demo.greet`, {
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      const chunk = "x".repeat(64 * 1024);
      req.write('{"input":{"name":"');
      for (let i = 0; i < 20; i += 1) req.write(chunk);
      req.end('"}}');
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error.code).toBe("PAYLOAD_TOO_LARGE");
    // The server is still fine.
    expect((await h.call("/healthz")).status).toBe(200);
  });

  it("streams a job's progress to completion over Server-Sent Events", async () => {
    const { id } = await json(
      await h.call("/v1/tasks/demo.steps", { json: { input: { count: 5, delayMs: 30 } } }),
    );
    const response = await h.call(`/v1/jobs/${id}/events`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = await readEventStream(response);
    expect(events[0]).toMatchObject({ event: "snapshot", id: "1", data: { id } });
    const progress = events.filter((e) => e.event === "progress").map((e) => (e.data as Json).progress);
    expect(progress.length).toBeGreaterThan(0);
    // Coalesced progress may skip steps, never reorders them, and always reaches the last.
    const currents = progress.map((p: Json) => p.current);
    expect(currents).toEqual([...currents].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ current: 5, total: 5, message: "step 5" });
    const last = events.at(-1)!;
    expect(last.event).toBe("completed");
    expect(last.data).toMatchObject({ type: "completed", jobId: id, result: { done: 5 } });
  });

  it("answers HEAD on an event stream at once, even for a running job", async () => {
    const running = await json(await h.call("/v1/tasks/demo.slow", { json: { input: { ms: 2_000 } } }));
    const head = await h.call(running.links.events, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    await h.call(running.links.cancel, { method: "POST" });
  });

  it("streams the final event of a job that already ended, then closes", async () => {
    const done = await json(
      await h.call("/v1/tasks/demo.greet?wait=5000", { json: { input: { name: "z" } } }),
    );
    const events = await readEventStream(await h.call(`/v1/jobs/${done.id}/events`));
    expect(events.map((e) => e.event)).toEqual(["snapshot", "completed"]);
    // EventSource reconnects with the last id it saw: 204 tells it the stream is over for good.
    const again = await h.call(`/v1/jobs/${done.id}/events`, { headers: { "last-event-id": "2" } });
    expect(again.status).toBe(204);
  });

  it("retries a failed job and refuses to retry a completed one", async () => {
    const failed = await json(
      await h.call("/v1/tasks/demo.explode?wait=5000", { json: { input: { message: "again" } } }),
    );
    expect(failed.state).toBe("failed");
    const retried = await h.call(`/v1/jobs/${failed.id}/retry`, { method: "POST" });
    expect(retried.status).toBe(200);
    expect(["waiting", "active", "failed"]).toContain((await json(retried)).state);

    const done = await json(
      await h.call("/v1/tasks/demo.greet?wait=5000", { json: { input: { name: "r" } } }),
    );
    const refused = await h.call(`/v1/jobs/${done.id}/retry`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.code).toBe("JOB_STATE");
    expect((await h.call("/v1/jobs/missing/retry", { method: "POST" })).status).toBe(404);
  });

  it("cancels a delayed job and an active one", async () => {
    const delayed = await json(
      await h.call("/v1/tasks/demo.greet", { json: { input: { name: "d" }, delayMs: 60_000 } }),
    );
    expect(delayed.state).toBe("delayed");
    const cancel = await h.call(`/v1/jobs/${delayed.id}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(200);
    expect(await json(cancel)).toMatchObject({ result: "cancelled", job: { state: "cancelled" } });

    const running = await json(await h.call("/v1/tasks/demo.slow", { json: { input: { ms: 5_000 } } }));
    await waitFor(async () => (await json(await h.call(running.links.self))).state === "active");
    const requested = await json(await h.call(running.links.cancel, { method: "POST" }));
    expect(requested.result).toBe("requested");
    await waitFor(async () => (await json(await h.call(running.links.self))).state === "cancelled");
    expect((await h.call("/v1/jobs/missing/cancel", { method: "POST" })).status).toBe(404);
  });

  it("deletes a finished job", async () => {
    const done = await json(
      await h.call("/v1/tasks/demo.greet?wait=5000", { json: { input: { name: "del" } } }),
    );
    expect((await h.call(done.links.self, { method: "DELETE" })).status).toBe(204);
    expect((await h.call(done.links.self)).status).toBe(404);
  });

  it("lists jobs by queue and state, validating the query", async () => {
    const list = await json(await h.call("/v1/jobs?queue=default&state=completed,failed&limit=5"));
    expect(list.jobs.length).toBeGreaterThan(0);
    expect(list.jobs.length).toBeLessThanOrEqual(5);
    for (const job of list.jobs) expect(["completed", "failed"]).toContain(job.state);
    const bad = await h.call("/v1/jobs?state=sleeping");
    expect(bad.status).toBe(400);
    expect((await h.call("/v1/jobs?limit=0")).status).toBe(400);
  });

  it("lists queues with counts, pauses, resumes and purges one", async () => {
    await h.call("/v1/tasks/demo.greet", {
      json: { input: { name: "q" }, queue: `side-${kind}`, delayMs: 60_000 },
    });
    const { queues } = await json(await h.call("/v1/queues"));
    const side = queues.find((q: Json) => q.name === `side-${kind}`);
    expect(side).toMatchObject({ paused: false, counts: { delayed: 1, waiting: 0 } });

    const paused = await json(await h.call(`/v1/queues/side-${kind}/pause`, { method: "POST" }));
    expect(paused).toMatchObject({ name: `side-${kind}`, paused: true });
    expect((await json(await h.call(`/v1/queues/side-${kind}`))).paused).toBe(true);
    const resumed = await json(await h.call(`/v1/queues/side-${kind}/resume`, { method: "POST" }));
    expect(resumed.paused).toBe(false);

    const badPurge = await h.call(`/v1/queues/side-${kind}/purge`, { json: { states: ["bogus"] } });
    expect(badPurge.status).toBe(400);
    const purged = await json(
      await h.call(`/v1/queues/side-${kind}/purge`, { json: { states: ["delayed"] } }),
    );
    expect(purged).toEqual({ queue: `side-${kind}`, removed: 1 });
    expect((await json(await h.call(`/v1/queues/side-${kind}`))).counts.delayed).toBe(0);
  });

  it("lists registered tasks with their JSON schemas", async () => {
    const { tasks } = await json(await h.call("/v1/tasks"));
    expect(tasks.map((t: Json) => t.name)).toEqual(["demo.explode", "demo.greet", "demo.slow", "demo.steps"]);
    const greet = await json(await h.call("/v1/tasks/demo.greet"));
    expect(greet).toMatchObject({
      description: "Says hello.",
      schema: { input: "standard-json-schema", vendor: "zod" },
      inputSchema: {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string", minLength: 1 } },
      },
      outputSchema: { type: "string" },
    });
    expect(greet.inputSchema.$schema).toBeUndefined();
  });

  it("serves an OpenAPI 3.1 document generated from the task schemas", async () => {
    const doc = await json(await h.call("/openapi.json"));
    expect(doc.openapi).toBe("3.1.0");
    const submit = doc.paths["/v1/tasks/demo.greet"].post;
    expect(submit.requestBody.content["application/json"].schema.properties.input).toEqual({
      $ref: "#/components/schemas/demo.greet.Input",
    });
    expect(doc.components.schemas["demo.greet.Input"].properties.name).toEqual({
      type: "string",
      minLength: 1,
    });
    expect(doc.paths["/v1/jobs/{id}/events"].get).toBeDefined();
    // Every $ref points at a schema that exists.
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const ref of refs) expect(doc.components.schemas).toHaveProperty([ref.slice(22, -1)]);
  });

  it("reports cache stats, health and readiness", async () => {
    const stats = await json(await h.call("/v1/cache/stats"));
    expect(stats).toMatchObject({ hits: expect.any(Number), misses: expect.any(Number) });
    const health = await h.call("/healthz");
    expect(health.status).toBe(200);
    expect(await json(health)).toMatchObject({ status: "ok" });
    const ready = await json(await h.call("/readyz"));
    expect(ready).toMatchObject({
      status: "ready",
      checks: { queue: { ok: true }, cache: { ok: true }, rateLimiter: { ok: true } },
    });
  });

  it("lists workers by heartbeat", async () => {
    await waitFor(async () => (await json(await h.call("/v1/workers"))).workers.length === 1);
    const [worker] = (await json(await h.call("/v1/workers"))).workers;
    expect(worker).toMatchObject({
      id: h.worker!.id,
      pid: process.pid,
      concurrency: 4,
      queues: expect.arrayContaining(["default"]),
      active: expect.any(Number),
      uptimeMs: expect.any(Number),
    });
    expect(worker.expiresAt).toBeGreaterThan(worker.lastHeartbeatAt);
  });

  it("exposes Prometheus metrics", async () => {
    await h.call("/v1/tasks/demo.greet?wait=5000", { json: { input: { name: "m" } } });
    const response = await h.call("/metrics");
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await response.text();
    expect(text).toMatch(/^conveyor_jobs\{queue="default",state="completed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^conveyor_jobs_completed_total\{queue="default"\} [1-9]\d*$/m);
    expect(text).toMatch(/^conveyor_jobs_failed_total\{queue="default"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^conveyor_job_duration_seconds_bucket\{queue="default",outcome="completed",le="\+Inf"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^conveyor_workers 1$/m);
    expect(text).toMatch(
      /^conveyor_http_requests_total\{method="POST",route="\/v1\/tasks\/:name",status="202"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^# TYPE conveyor_job_duration_seconds histogram$/m);
  });
});
