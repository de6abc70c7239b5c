import type { Task } from "@conveyor/core";

/** A JSON Schema document (draft 2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = Record<string, unknown>;

/** How a task schema was turned into JSON Schema. */
export type SchemaSource =
  /** The schema implements Standard JSON Schema (`~standard.jsonSchema`): zod ≥ 4.2, arktype, … */
  | "standard-json-schema"
  /** The schema has its own `toJSONSchema()`/`toJsonSchema()` method (older zod 4, arktype). */
  | "vendor-method"
  /** The task has no schema: any JSON value is accepted. */
  | "none"
  /** The schema's library offers no conversion: the document says so, validation still applies. */
  | "unavailable";

/** The JSON Schema of one side (input or output) of a task. */
export interface ConvertedSchema {
  /** The schema; `{}` (anything) when none or unavailable. */
  schema: JsonSchema;
  /** Where it came from. */
  source: SchemaSource;
  /** The Standard Schema vendor (`"zod"`, `"valibot"`, …), when there is a schema. */
  vendor?: string;
  /** Why the conversion failed, when it did. */
  error?: string;
}

type WithStandard = {
  "~standard"?: {
    vendor?: string;
    jsonSchema?: {
      input?: (options: { target: string }) => JsonSchema;
      output?: (options: { target: string }) => JsonSchema;
    };
  };
  toJSONSchema?: (options?: Record<string, unknown>) => JsonSchema;
  toJsonSchema?: () => JsonSchema;
};

function stripDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/**
 * Converts a Standard Schema to JSON Schema (draft 2020-12), as far as its library allows:
 * Standard JSON Schema first, then a vendor method, else `{}` with `source: "unavailable"`
 * (valibot needs `@valibot/to-json-schema`, which is the app's to wire in). Never throws.
 */
export function toJsonSchema(schema: unknown, io: "input" | "output"): ConvertedSchema {
  if (!schema) return { schema: {}, source: "none" };
  const s = schema as WithStandard;
  const vendor = s["~standard"]?.vendor;
  const base = vendor ? { vendor } : {};
  const standard = s["~standard"]?.jsonSchema?.[io];
  try {
    if (typeof standard === "function") {
      return {
        ...base,
        schema: stripDialect(standard({ target: "draft-2020-12" })),
        source: "standard-json-schema",
      };
    }
    if (typeof s.toJSONSchema === "function") {
      return {
        ...base,
        schema: stripDialect(s.toJSONSchema({ io, target: "draft-2020-12" })),
        source: "vendor-method",
      };
    }
    if (typeof s.toJsonSchema === "function") {
      return { ...base, schema: stripDialect(s.toJsonSchema()), source: "vendor-method" };
    }
  } catch (error) {
    return { ...base, schema: {}, source: "unavailable", error: (error as Error)?.message ?? String(error) };
  }
  return { ...base, schema: {}, source: "unavailable" };
}

const cache = new WeakMap<Task, { input: ConvertedSchema; output: ConvertedSchema }>();

/** The input and output JSON Schemas of a task, converted once per task object. */
export function taskSchemas(task: Task): { input: ConvertedSchema; output: ConvertedSchema } {
  let found = cache.get(task);
  if (!found) {
    found = { input: toJsonSchema(task.input, "input"), output: toJsonSchema(task.output, "output") };
    cache.set(task, found);
  }
  return found;
}
