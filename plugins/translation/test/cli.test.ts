import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runCli } from "@conveyor/cli";
import { describe, expect, it } from "vitest";
import { apertium } from "../src/index.js";
import { tempRoot } from "./support/platform.js";

const CONFIG = resolve(import.meta.dirname, "fixtures/cli/conveyor.config.ts");

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CONVEYOR_")) env[key] = value;
  const code = await runCli(["--config", CONFIG, ...argv], {
    stdout: { write: (chunk: string) => (stdout += chunk), isTTY: false, columns: 120 },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: false, columns: 120 },
    env,
    cwd: resolve(import.meta.dirname, "fixtures/cli"),
  });
  return { code, stdout, stderr };
}

/** `translate <root>/in.csv <root>/out.csv --from en --to es` followed by `extra`. */
const translate = (root: string, ...extra: string[]): string[] => [
  "translate",
  join(root, "in.csv"),
  join(root, "out.csv"),
  "--from",
  "en",
  "--to",
  "es",
  ...extra,
];

describe("conveyor translate", () => {
  it("translates a CSV column through Apertium, showing progress in rows, and prints the result", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "in.csv"), 'id,text\n1,"The cat is on the table."\n2,The dog eats.\n');
    const run = await cli(translate(root, "--column", "text", "--json"));
    expect(run.stderr).toMatch(/2\/2 100% 2 rows translated/);
    expect(run.code).toBe(0);
    const document = JSON.parse(run.stdout);
    expect(document).toMatchObject({ task: "translation.translateFile", state: "completed" });
    expect(document.result).toMatchObject({ rows: 2, cells: 2, engine: "apertium", cache: { misses: 2 } });
    const engine = await apertium().load();
    const [cat, dog] = await engine.translate(["The cat is on the table.", "The dog eats."], {
      from: "en",
      to: "es",
    });
    await engine.close();
    expect(readFileSync(join(root, "out.csv"), "utf8")).toBe(`id,text\n1,"${cat}"\n2,${dog}\n`);
    // The first run loads the config through jiti, which transpiles the plugin's source: slow on a busy machine.
  }, 60_000);

  it("prints the job id with --no-wait and warns that memory:// runs nothing after it exits", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "in.csv"), "text\nThe dog eats.\n");
    const run = await cli(translate(root, "--column", "text", "--no-wait"));
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.stderr).toMatch(/memory:\/\/ is in-process/);
  });

  it("fails with the job's error for an unknown column, and with usage for a missing flag", async () => {
    const root = tempRoot();
    writeFileSync(join(root, "in.csv"), "text\nThe dog eats.\n");
    const failed = await cli(translate(root, "--column", "body"));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/no column "body" in the header \(columns: text\)/);
    const usage = await cli(translate(root));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--column/);
  });
});
