import { JOB_STATES, type RegisteredTask } from "@conveyor/core";
import { type JsonSchema, taskSchemas } from "./json-schema.js";

/** What the OpenAPI document says about the API itself. */
export interface OpenApiOptions {
  /** `info.title`. @defaultValue "Conveyor API" */
  title?: string;
  /** `info.version`: the version of your API. @defaultValue "1.0.0" */
  version?: string;
  /** `servers`; relative to the document when omitted. */
  servers?: { url: string; description?: string }[];
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref("Error")) });

const ERRORS = {
  "400": errorResponse(
    "Bad JSON or a value that does not match the schema (`details.issues` lists each problem).",
  ),
  "401": errorResponse("Missing or invalid bearer token."),
  "404": errorResponse("Unknown task, job or endpoint."),
  "413": errorResponse("Body larger than the server's limit."),
  "415": errorResponse("Body is not JSON."),
  "429": errorResponse("Rate limit of the token reached; see `Retry-After`."),
};

const SUBMIT_OPTIONS: Record<string, JsonSchema> = {
  jobId: {
    type: "string",
    minLength: 1,
    maxLength: 256,
    description: "Job id; an existing id returns that job (dedupe).",
  },
  delayMs: { type: "number", minimum: 0, description: "Run no earlier than this many ms from now." },
  runAt: {
    oneOf: [{ type: "number" }, { type: "string", format: "date-time" }],
    description: "Run no earlier than this time.",
  },
  priority: { type: "integer", description: "Higher runs first." },
  queue: { type: "string", description: "Queue to use instead of the task's." },
  retries: { type: "integer", minimum: 0, description: "Extra attempts after a failure." },
  timeoutMs: { type: "number", exclusiveMinimum: 0, description: "Hard limit of one attempt in ms." },
  meta: {
    type: "object",
    additionalProperties: { type: "string" },
    description: "String metadata stored with the job.",
  },
};

/**
 * Moves `$defs` of a task schema into `components.schemas` under a task-specific prefix and
 * rewrites its `$ref`s: in an OpenAPI document a `#/$defs/…` reference would resolve against the
 * document root, not the embedded schema.
 */
function hoist(schema: JsonSchema, prefix: string, components: Record<string, unknown>): JsonSchema {
  const defs = schema.$defs as Record<string, unknown> | undefined;
  if (!defs) return schema;
  const { $defs: _defs, ...rest } = schema;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        out[key] =
          key === "$ref" && typeof inner === "string" && inner.startsWith("#/$defs/")
            ? `#/components/schemas/${prefix}${inner.slice("#/$defs/".length)}`
            : rewrite(inner);
      }
      return out;
    }
    return value;
  };
  for (const [name, def] of Object.entries(defs)) components[`${prefix}${name}`] = rewrite(def);
  return rewrite(rest) as JsonSchema;
}

const componentName = (task: string) => task.replace(/[^A-Za-z0-9_.-]/g, "_");

/**
 * Builds the OpenAPI 3.1 document of the API: the fixed endpoints, and for every registered task
 * a submit endpoint whose request body carries the task's input schema (converted from its
 * Standard Schema; see {@link SchemaSource} for what is possible per library).
 */
export function buildOpenApi(
  tasks: readonly RegisteredTask[],
  options: OpenApiOptions & { basePath: string; auth: boolean },
): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    Error: {
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message", "details"],
          properties: {
            code: {
              type: "string",
              examples: ["VALIDATION", "UNKNOWN_TASK", "JOB_NOT_FOUND", "UNAUTHORIZED"],
            },
            message: { type: "string" },
            details: { type: "object", description: "`issues` (path, message) for validation errors." },
          },
        },
      },
    },
    Progress: {
      type: "object",
      required: ["current"],
      properties: { current: { type: "number" }, total: { type: "number" }, message: { type: "string" } },
    },
    JobError: {
      type: "object",
      required: ["name", "message", "attempt"],
      properties: {
        name: { type: "string" },
        message: { type: "string" },
        stack: { type: "string" },
        code: { type: "string" },
        attempt: { type: "integer" },
        retryable: { type: "boolean" },
      },
    },
    JobLinks: {
      type: "object",
      properties: {
        self: { type: "string" },
        events: { type: "string" },
        retry: { type: "string" },
        cancel: { type: "string" },
      },
    },
    Job: {
      type: "object",
      required: ["id", "queue", "task", "state", "attempt", "maxAttempts", "createdAt", "runAt", "links"],
      properties: {
        id: { type: "string" },
        queue: { type: "string" },
        task: { type: "string" },
        state: { enum: [...JOB_STATES] },
        input: {},
        priority: { type: "integer" },
        attempt: { type: "integer" },
        maxAttempts: { type: "integer" },
        createdAt: { type: "number", description: "Epoch ms." },
        runAt: { type: "number", description: "Epoch ms." },
        startedAt: { type: "number" },
        finishedAt: { type: "number" },
        progress: ref("Progress"),
        result: {},
        error: ref("JobError"),
        workerId: { type: "string" },
        meta: { type: "object", additionalProperties: { type: "string" } },
        created: { type: "boolean", description: "Submit only: false when the jobId existed (dedupe)." },
        links: ref("JobLinks"),
      },
    },
    Counts: {
      type: "object",
      properties: Object.fromEntries(JOB_STATES.map((s) => [s, { type: "integer" }])),
    },
    Queue: {
      type: "object",
      required: ["name", "paused", "counts"],
      properties: { name: { type: "string" }, paused: { type: "boolean" }, counts: ref("Counts") },
    },
    Worker: {
      type: "object",
      properties: {
        id: { type: "string" },
        host: { type: "string" },
        pid: { type: "integer" },
        queues: { type: "array", items: { type: "string" } },
        concurrency: { type: "integer", description: "Jobs it runs at once at most, now." },
        autoscale: {
          type: "object",
          description: "The range its concurrency autoscales in; absent for a fixed concurrency.",
          properties: { min: { type: "integer" }, max: { type: "integer" } },
          required: ["min", "max"],
        },
        active: { type: "integer" },
        processed: { type: "integer", description: "Jobs it had started by its last heartbeat." },
        startedAt: { type: "number" },
        lastHeartbeatAt: { type: "number" },
        expiresAt: { type: "number" },
        uptimeMs: { type: "number" },
      },
    },
  };
  const b = options.basePath;
  const security = options.auth ? [{ bearer: [] }] : [];
  const op = (summary: string, extra: Record<string, unknown>) => ({ summary, security, ...extra });
  const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
  const queueParam = { name: "name", in: "path", required: true, schema: { type: "string" } };
  const jobResponse = { description: "The job.", content: json(ref("Job")) };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const registered of tasks) {
    const { input, output } = taskSchemas(registered.task);
    const name = componentName(registered.name);
    const inputSchema = hoist(input.schema, `${name}.`, schemas);
    schemas[`${name}.Input`] = inputSchema;
    schemas[`${name}.Output`] = hoist(output.schema, `${name}.out.`, schemas);
    const body = {
      type: "object",
      additionalProperties: false,
      properties: { input: ref(`${name}.Input`), ...SUBMIT_OPTIONS },
    };
    const path = `${b}/v1/tasks/${encodeURIComponent(registered.name)}`;
    paths[path] = {
      post: op(`Submit ${registered.name}`, {
        operationId: `submit.${registered.name}`,
        ...(registered.description ? { description: registered.description } : {}),
        tags: ["tasks"],
        "x-conveyor-schema": {
          input: input.source,
          output: output.source,
          ...(input.vendor ? { vendor: input.vendor } : {}),
        },
        parameters: [
          {
            name: "wait",
            in: "query",
            description: "Wait up to this many ms for the job to finish; 200 when it did, else 202.",
            schema: { type: "integer", minimum: 0 },
          },
        ],
        requestBody: { required: false, content: json(body) },
        responses: {
          "200": {
            description: "Finished within `wait` (completed, failed or cancelled: see `state`).",
            content: json({ allOf: [ref("Job"), { properties: { result: ref(`${name}.Output`) } }] }),
          },
          "202": { description: "Accepted; follow `links`.", content: json(ref("Job")) },
          ...ERRORS,
        },
      }),
    };
    paths[`${path}/bulk`] = {
      post: op(`Submit many ${registered.name} jobs at once`, {
        operationId: `submitBulk.${registered.name}`,
        tags: ["tasks"],
        requestBody: {
          required: true,
          content: json({
            type: "object",
            required: ["items"],
            additionalProperties: false,
            properties: { items: { type: "array", minItems: 1, items: body } },
          }),
        },
        responses: {
          "202": {
            description: "All accepted (nothing is enqueued when one item is invalid).",
            content: json({ type: "object", properties: { jobs: { type: "array", items: ref("Job") } } }),
          },
          ...ERRORS,
        },
      }),
    };
  }

  Object.assign(paths, {
    [`${b}/v1/tasks`]: {
      get: op("Registered tasks with their JSON schemas", {
        tags: ["tasks"],
        responses: { "200": { description: "Tasks." } },
      }),
    },
    [`${b}/v1/tasks/{name}`]: {
      get: op("One registered task", {
        tags: ["tasks"],
        parameters: [queueParam],
        responses: { "200": { description: "The task." }, "404": ERRORS["404"] },
      }),
    },
    [`${b}/v1/jobs`]: {
      get: op("Jobs, newest first", {
        tags: ["jobs"],
        parameters: [
          { name: "queue", in: "query", schema: { type: "string" } },
          { name: "state", in: "query", description: "Comma list of states.", schema: { type: "string" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
          { name: "offset", in: "query", schema: { type: "integer", minimum: 0 } },
        ],
        responses: {
          "200": {
            description: "Jobs.",
            content: json({ type: "object", properties: { jobs: { type: "array", items: ref("Job") } } }),
          },
        },
      }),
    },
    [`${b}/v1/jobs/{id}`]: {
      get: op("Status, progress, result or error of a job", {
        tags: ["jobs"],
        parameters: [idParam],
        responses: { "200": jobResponse, "404": ERRORS["404"] },
      }),
      delete: op("Delete a job that is not active", {
        tags: ["jobs"],
        parameters: [idParam],
        responses: {
          "204": { description: "Deleted." },
          "404": ERRORS["404"],
          "409": errorResponse("The job is active."),
        },
      }),
    },
    [`${b}/v1/jobs/{id}/events`]: {
      get: op("Server-Sent Events of a job until it ends", {
        tags: ["jobs"],
        parameters: [idParam],
        description:
          "A `snapshot` event with the job, then one event per lifecycle change (`active`, `progress`, `retrying`, `completed`, `failed`, `cancelled`, …) whose data is the JSON event; the stream ends after the terminal event.",
        responses: {
          "200": {
            description: "An event stream.",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
          "404": ERRORS["404"],
        },
      }),
    },
    [`${b}/v1/jobs/{id}/retry`]: {
      post: op("Retry a failed or cancelled job", {
        tags: ["jobs"],
        parameters: [idParam],
        responses: {
          "200": jobResponse,
          "404": ERRORS["404"],
          "409": errorResponse("The job is not failed or cancelled."),
        },
      }),
    },
    [`${b}/v1/jobs/{id}/cancel`]: {
      post: op("Cancel a job (an active one is signalled)", {
        tags: ["jobs"],
        parameters: [idParam],
        responses: {
          "200": {
            description: "`result`: cancelled, requested (active: stops soon) or finished (nothing changed).",
            content: json({
              type: "object",
              properties: { result: { enum: ["cancelled", "requested", "finished"] }, job: ref("Job") },
            }),
          },
          "404": ERRORS["404"],
        },
      }),
    },
    [`${b}/v1/queues`]: {
      get: op("Queues with counts by state", {
        tags: ["queues"],
        responses: {
          "200": {
            description: "Queues.",
            content: json({ type: "object", properties: { queues: { type: "array", items: ref("Queue") } } }),
          },
        },
      }),
    },
    [`${b}/v1/queues/{name}`]: {
      get: op("One queue with counts by state", {
        tags: ["queues"],
        parameters: [queueParam],
        responses: { "200": { description: "The queue.", content: json(ref("Queue")) } },
      }),
    },
    [`${b}/v1/queues/{name}/pause`]: {
      post: op("Pause a queue", {
        tags: ["queues"],
        parameters: [queueParam],
        responses: { "200": { description: "Paused.", content: json(ref("Queue")) } },
      }),
    },
    [`${b}/v1/queues/{name}/resume`]: {
      post: op("Resume a queue", {
        tags: ["queues"],
        parameters: [queueParam],
        responses: { "200": { description: "Resumed.", content: json(ref("Queue")) } },
      }),
    },
    [`${b}/v1/queues/{name}/purge`]: {
      post: op("Delete jobs of a queue by state and age (never active ones)", {
        tags: ["queues"],
        parameters: [queueParam],
        requestBody: {
          required: false,
          content: json({
            type: "object",
            additionalProperties: false,
            properties: {
              states: { type: "array", items: { enum: [...JOB_STATES] } },
              olderThanMs: { type: "number", minimum: 0 },
            },
          }),
        },
        responses: {
          "200": {
            description: "How many were deleted.",
            content: json({ type: "object", properties: { removed: { type: "integer" } } }),
          },
        },
      }),
    },
    [`${b}/v1/workers`]: {
      get: op("Workers with a live heartbeat", {
        tags: ["workers"],
        responses: {
          "200": {
            description: "Workers.",
            content: json({
              type: "object",
              properties: { workers: { type: "array", items: ref("Worker") } },
            }),
          },
        },
      }),
    },
    [`${b}/v1/cache/stats`]: {
      get: op("Cache counters (per tier for a tiered cache)", {
        tags: ["cache"],
        responses: { "200": { description: "Stats." } },
      }),
    },
    [`${b}/healthz`]: {
      get: {
        summary: "The process answers",
        tags: ["health"],
        security: [],
        responses: { "200": { description: "Alive." } },
      },
    },
    [`${b}/readyz`]: {
      get: {
        summary: "Every backend answers",
        tags: ["health"],
        security: [],
        responses: {
          "200": { description: "Ready." },
          "503": { description: "A backend did not answer (see `checks`)." },
        },
      },
    },
    [`${b}/metrics`]: {
      get: op("Prometheus metrics", {
        tags: ["health"],
        responses: {
          "200": {
            description: "Text format 0.0.4.",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      }),
    },
  });

  return {
    openapi: "3.1.0",
    info: { title: options.title ?? "Conveyor API", version: options.version ?? "1.0.0" },
    ...(options.servers ? { servers: options.servers } : {}),
    paths,
    components: {
      schemas,
      ...(options.auth ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
  };
}
