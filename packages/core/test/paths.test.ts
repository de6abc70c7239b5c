import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PathNotAllowedError } from "../src/errors.js";
import { resolveInputPath, resolveOutputPath } from "../src/paths.js";

const made: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-paths-"));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function reasonOf(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PathNotAllowedError);
  return (error as PathNotAllowedError).details.reason;
}

describe("path confinement", () => {
  it("resolves inputs relative to the first root and reports their size", async () => {
    const root = folder();
    writeFileSync(join(root, "a.txt"), "hello");
    const resolved = await resolveInputPath("a.txt", { roots: [root] });
    expect(resolved.bytes).toBe(5);
    expect(resolved.path.endsWith("a.txt")).toBe(true);
  });

  it("refuses .., absolute paths outside and symlink escapes, with the scope and hint in the message", async () => {
    const root = folder();
    const outside = folder();
    writeFileSync(join(outside, "secret.txt"), "s");
    symlinkSync(join(outside, "secret.txt"), join(root, "link.txt"));
    const fence = { roots: [root], scope: "demo", hint: "demo({ roots })" };
    for (const path of [
      join(outside, "secret.txt"),
      `../${outside.split("/").pop()}/secret.txt`,
      "link.txt",
    ]) {
      const error = await resolveInputPath(path, fence).catch((e: PathNotAllowedError) => e);
      expect(error).toBeInstanceOf(PathNotAllowedError);
      expect((error as PathNotAllowedError).details.reason).toBe("outside-roots");
      expect((error as PathNotAllowedError).message).toMatch(/^\[conveyor:demo\] .*demo\(\{ roots \}\)/);
    }
    expect(await reasonOf(resolveOutputPath(join(outside, "out.txt"), fence))).toBe("outside-roots");
    mkdirSync(join(root, "sub"));
    symlinkSync(outside, join(root, "sub", "escape"));
    expect(await reasonOf(resolveOutputPath("sub/escape/out.txt", fence))).toBe("outside-roots");
  });

  it("names missing files, folders, size limits and symlinked outputs", async () => {
    const root = folder();
    writeFileSync(join(root, "big.txt"), "x".repeat(100));
    writeFileSync(join(root, "target.txt"), "t");
    symlinkSync(join(root, "target.txt"), join(root, "out-link.txt"));
    mkdirSync(join(root, "dir"));
    expect(await reasonOf(resolveInputPath("nope.txt", { roots: [root] }))).toBe("missing");
    expect(await reasonOf(resolveInputPath("dir", { roots: [root] }))).toBe("not-a-file");
    expect(await reasonOf(resolveInputPath("big.txt", { roots: [root], maxBytes: 10 }))).toBe("too-large");
    expect(await reasonOf(resolveOutputPath("no/such/out.txt", { roots: [root] }))).toBe("missing");
    expect(await reasonOf(resolveOutputPath("out-link.txt", { roots: [root] }))).toBe("symlink");
    expect(await resolveOutputPath("fresh.txt", { roots: [root] })).toMatch(/fresh\.txt$/);
  });
});
