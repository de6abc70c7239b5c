import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "@conveyor/core";
import * as memory from "@conveyor/memory";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as umbrella from "../src/index.js";

const ROOT = join(import.meta.dirname, "../../..");

/** Names a barrel exports, split into values and type-only exports, read from its source. */
function barrel(file: string): { values: string[]; types: string[] } {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest);
  const values: string[] = [];
  const types: string[] = [];
  for (const statement of source.statements) {
    if (
      !ts.isExportDeclaration(statement) ||
      !statement.exportClause ||
      !ts.isNamedExports(statement.exportClause)
    )
      continue;
    for (const element of statement.exportClause.elements) {
      (statement.isTypeOnly || element.isTypeOnly ? types : values).push(element.name.text);
    }
  }
  return { values: values.sort(), types: types.sort() };
}

describe("the conveyor umbrella", () => {
  it("re-exports every value of @conveyor/core, the same objects", () => {
    for (const [name, value] of Object.entries(core)) {
      expect(umbrella, name).toHaveProperty(name);
      expect((umbrella as Record<string, unknown>)[name], name).toBe(value);
    }
  });

  it("re-exports every export of @conveyor/core and @conveyor/memory by name, types included", () => {
    const own = barrel("packages/conveyor/src/index.ts");
    const missing: string[] = [];
    for (const file of ["packages/core/src/index.ts", "adapters/memory/src/index.ts"]) {
      const theirs = barrel(file);
      // conveyorAdapter is the registry's entry point, not API: the umbrella registers it itself.
      missing.push(
        ...theirs.values.filter((name) => name !== "conveyorAdapter" && !own.values.includes(name)),
      );
      missing.push(...theirs.types.filter((name) => !own.types.includes(name)).map((name) => `type ${name}`));
    }
    expect(missing, "add these to packages/conveyor/src/index.ts").toEqual([]);
  });

  it("adds the memory adapter factories", () => {
    expect(umbrella.createMemoryQueue).toBe(memory.createMemoryQueue);
    expect(umbrella.createMemoryCache).toBe(memory.createMemoryCache);
    expect(umbrella.createMemoryRateLimiter).toBe(memory.createMemoryRateLimiter);
  });

  it("runs a job on the embedded default with no configuration", async () => {
    const add = umbrella.defineTask({ name: "math.add", run: ({ a, b }: { a: number; b: number }) => a + b });
    const conveyor = await umbrella.createConveyor({ tasks: [add], logger: false, env: false });
    try {
      expect(conveyor.backends.queue).toBe("memory://");
      const worker = conveyor.worker();
      const job = await conveyor.enqueue(add, { a: 1, b: 2 });
      expect(await job.result({ timeoutMs: 5_000 })).toBe(3);
      await worker.close();
    } finally {
      await conveyor.close();
    }
  });
});
