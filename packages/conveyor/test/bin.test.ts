import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI_BUILD, ensureBuilt, ROOT } from "../../cli/test/support/build.js";
import { run } from "../../cli/test/support/spawn.js";
import { sampleFolder } from "./support/sample-folder.js";

// The built umbrella as a user gets it. examples/word-count declares only `conveyor` and `zod`,
// so under pnpm's strict node_modules @conveyor/memory is not resolvable from there: memory://
// works only because the umbrella registers the adapter it depends on. CI runs `pnpm build`
// first; ensureBuilt builds what is missing.
const EXAMPLE = join(ROOT, "examples/word-count");
const BIN = join(ROOT, "packages/conveyor/dist/bin.js");

beforeAll(
  () =>
    ensureBuilt([
      ...CLI_BUILD,
      { dir: "packages/conveyor", outputs: ["index.js", "bin.js"], rebuildStale: true },
    ]),
  180_000,
);

describe("the conveyor umbrella, built", () => {
  it("runs files.wordCount from the example folder with its bin", async () => {
    const dir = sampleFolder();
    const result = await run(BIN, ["run", "files.wordCount", "--input", JSON.stringify({ dir }), "--json"], {
      cwd: EXAMPLE,
    });
    expect(result.stderr).toContain("progress [");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      task: "files.wordCount",
      state: "completed",
      result: { dir, files: 3, lines: 4, words: 12, skipped: 1 },
    });
  });

  it("lists the example's tasks", async () => {
    const result = await run(BIN, ["inspect", "registered", "--json"], { cwd: EXAMPLE });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      { name: "files.wordCount", queue: "default", plugin: "files", description: expect.any(String) },
    ]);
  });

  it("runs the demo script on a folder and exits 0", async () => {
    const result = await run(join(EXAMPLE, "run.mjs"), [sampleFolder()], { cwd: ROOT });
    expect(result.stderr).toContain("[####################] 4/4 100% done");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("3 files, 4 lines, 12 words");
    expect(result.stdout).toContain("Top files by words:");
  });

  it("makes the demo script exit 1 with the job's error for a missing folder", async () => {
    const result = await run(join(EXAMPLE, "run.mjs"), [join(ROOT, "no-such-folder")], { cwd: ROOT });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is not a folder");
  });
});
