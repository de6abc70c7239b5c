import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

/**
 * One root config, one vitest project per package folder that has a `test/` folder
 * (`packages/*`, `adapters/*`, `plugins/*`, and `tests/` for cross-package tests).
 *
 * Every `@conveyor/*` workspace package (and the `conveyor` umbrella) is aliased to its
 * TypeScript source, `<dir>/src/index.ts`, so tests run against the source without a build.
 * A package that needs its own setup (a browser, jsdom) adds a `vitest.config.ts` in its folder;
 * that file is used as its project instead of the generated one.
 */
const root = import.meta.dirname;
const GROUPS = ["packages", "adapters", "plugins"];

interface WorkspacePackage {
  dir: string;
  name: string | undefined;
}

function workspaceDirs(): string[] {
  const dirs: string[] = [];
  for (const group of GROUPS) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const entry of readdirSync(groupDir, { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(groupDir, entry.name));
    }
  }
  dirs.push(join(root, "tests"));
  return dirs.sort();
}

function readPackage(dir: string): WorkspacePackage {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return { dir, name: undefined };
  const manifest = JSON.parse(readFileSync(file, "utf8")) as { name?: string };
  return { dir, name: manifest.name };
}

const packages = workspaceDirs().map(readPackage);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

// Exact-name aliases only: `@conveyor/core` → its src/index.ts. Array form with anchored
// regexes so `@conveyor/core` never captures `@conveyor/core-extra`.
const alias = packages
  .filter((pkg) => pkg.name && (pkg.name.startsWith("@conveyor/") || pkg.name === "conveyor"))
  .filter((pkg) => existsSync(join(pkg.dir, "src/index.ts")))
  .map((pkg) => ({
    find: new RegExp(`^${escapeRegExp(pkg.name as string)}$`),
    replacement: join(pkg.dir, "src/index.ts"),
  }));

// tests/ holds cross-package suites in folders by topic (tests/conformance/…), not in test/.
const testsDir = join(root, "tests");
const TEST_FILES = "**/*.{test,spec}.{ts,mts,cts,tsx}";

const projects: (TestProjectInlineConfiguration | string)[] = packages
  .filter(
    (pkg) =>
      existsSync(join(pkg.dir, "test")) ||
      (pkg.dir === testsDir && existsSync(join(pkg.dir, "package.json"))),
  )
  .map((pkg) => {
    const own = join(pkg.dir, "vitest.config.ts");
    if (existsSync(own)) return own;
    return {
      extends: true,
      resolve: { alias },
      test: {
        name: pkg.name ?? resolve(pkg.dir).slice(root.length + 1),
        root: pkg.dir,
        include: [pkg.dir === testsDir ? TEST_FILES : `test/${TEST_FILES}`],
        environment: "node",
      },
    } satisfies TestProjectInlineConfiguration;
  });

export default defineConfig({
  test: {
    projects,
    // Real servers take a moment to start; a test that needs longer than this is too slow.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
    // Flaky tests are fixed, not retried (STYLE.md rule 7).
    retry: 0,
    passWithNoTests: false,
  },
});
