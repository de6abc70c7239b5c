import { type Conveyor, createConveyor } from "@conveyor/core";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conveyorFastify } from "../src/index.js";
import { readEventStream, TASKS } from "./support.js";

const TOKEN = "fastify-token-0123456789abcdef";

describe("Fastify plugin", () => {
  let conveyor: Conveyor;
  let app: FastifyInstance;
  let base: string;
  const call = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set("authorization", `Bearer ${TOKEN}`);
    if (json !== undefined) {
      headers.set("content-type", "application/json");
      rest.body = JSON.stringify(json);
      rest.method ??= "POST";
    }
    return fetch(`${base}${path}`, { ...rest, headers });
  };

  beforeAll(async () => {
    conveyor = await createConveyor({ url: "memory://", tasks: TASKS, logger: false, env: false });
    conveyor.worker({ concurrency: 2 });
    app = Fastify();
    // The app's own routes and body parsing are untouched by the plugin's scope.
    app.post("/echo", async (request) => ({ echoed: request.body }));
    await app.register(conveyorFastify, {
      prefix: "/conveyor",
      conveyor,
      auth: { tokens: [TOKEN] },
      env: {},
    });
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    base = address;
  });
  afterAll(async () => {
    await app.close();
    await conveyor.close();
  });

  it("serves the API under the prefix, with links that include it", async () => {
    const response = await call("/conveyor/v1/tasks/demo.greet?wait=5000", {
      json: { input: { name: "Fay" } },
    });
    expect(response.status).toBe(200);
    const job = (await response.json()) as Record<string, any>;
    expect(job).toMatchObject({ state: "completed", result: "hello Fay" });
    expect(job.links.self).toBe(`/conveyor/v1/jobs/${job.id}`);
    expect((await call(job.links.self)).status).toBe(200);
    const doc = (await (await call("/conveyor/openapi.json")).json()) as Record<string, any>;
    expect(doc.paths["/conveyor/v1/tasks/demo.greet"]).toBeDefined();
  });

  it("keeps the handler's errors, limits and auth", async () => {
    expect((await fetch(`${base}/conveyor/v1/queues`)).status).toBe(401);
    const schema = await call("/conveyor/v1/tasks/demo.greet", { json: { input: {} } });
    expect(schema.status).toBe(400);
    expect(((await schema.json()) as any).error.details.issues[0].path).toBe("input.name");
    const bad = await call("/conveyor/v1/tasks/demo.greet", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe("BAD_JSON");
    const big = await call("/conveyor/v1/tasks/demo.greet", {
      json: { input: { name: "x".repeat(1_100_000) } },
    });
    expect(big.status).toBe(413);
    expect((await call("/conveyor/v1/nothing")).status).toBe(404);
  });

  it("streams events through Fastify", async () => {
    const { id } = (await (
      await call("/conveyor/v1/tasks/demo.steps", { json: { input: { count: 3 } } })
    ).json()) as {
      id: string;
    };
    const events = await readEventStream(await call(`/conveyor/v1/jobs/${id}/events`));
    expect(events[0]?.event).toBe("snapshot");
    expect(events.at(-1)).toMatchObject({ event: "completed", data: { result: { done: 3 } } });
  });

  it("leaves the rest of the app alone", async () => {
    const response = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await response.json()).toEqual({ echoed: { a: 1 } });
  });
});
