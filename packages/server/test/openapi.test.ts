import SwaggerParser from "@apidevtools/swagger-parser";
import { defineTask } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { buildOpenApi } from "../src/index.js";
import { type Harness, startHarness } from "./support.js";

interface Tree {
  name: string;
  children: Tree[];
}
const tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), children: z.array(tree) }));
const recursive = defineTask({
  name: "demo.tree",
  input: z.object({ root: tree }),
  run: ({ root }) => root.name,
});
const untyped = defineTask({ name: "demo.untyped", run: (input: unknown) => input });
// A Standard Schema from a library without a JSON Schema conversion.
const opaque = defineTask({
  name: "demo.opaque",
  input: {
    "~standard": {
      version: 1,
      vendor: "hand-made",
      validate: (value: unknown) =>
        typeof value === "string" ? { value } : { issues: [{ message: "must be a string" }] },
    },
  },
  run: (input: string) => input.length,
});

describe("OpenAPI document", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("memory", { worker: false });
    h.conveyor.register(recursive, untyped, opaque);
  });
  afterAll(async () => {
    await h.close();
  });

  it("is a valid OpenAPI 3.1 document whose every $ref resolves", async () => {
    const doc = (await (await h.call("/openapi.json")).json()) as Record<string, any>;
    // validate() checks the document against the OpenAPI 3.1 schema and dereferences every $ref.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    expect(doc.paths["/v1/tasks/demo.tree"]).toBeDefined();
  });

  it("hoists $defs of recursive schemas into components", () => {
    const doc = buildOpenApi(h.conveyor.tasks(), { basePath: "", auth: false }) as Record<string, any>;
    const input = JSON.stringify(doc.components.schemas["demo.tree.Input"]);
    expect(input).not.toContain("#/$defs/");
    const refs = input.match(/#\/components\/schemas\/[^"]+/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs)
      expect(doc.components.schemas).toHaveProperty([ref.slice("#/components/schemas/".length)]);
  });

  it("says when a schema cannot be converted, and still validates input against it", async () => {
    const task = (await (await h.call("/v1/tasks/demo.opaque")).json()) as Record<string, any>;
    expect(task.schema).toMatchObject({ input: "unavailable", vendor: "hand-made" });
    expect(task.inputSchema).toEqual({});
    const untypedTask = (await (await h.call("/v1/tasks/demo.untyped")).json()) as Record<string, any>;
    expect(untypedTask.schema.input).toBe("none");
    const refused = await h.call("/v1/tasks/demo.opaque", { json: { input: 42 } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).error.details.issues).toEqual([
      { message: "must be a string", path: "input" },
    ]);
  });
});
