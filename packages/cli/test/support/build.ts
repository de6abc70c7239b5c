import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "../../../..");

const WATCHED = ["src", "package.json", "tsup.config.ts"];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isStale(dir: string, outputs: readonly string[]): boolean {
  const source = Math.max(...WATCHED.map((name) => newestMtime(join(dir, name))));
  return outputs.some((output) => {
    const file = join(dir, "dist", output);
    return !existsSync(file) || statSync(file).mtimeMs < source;
  });
}

function withLock(run: () => void): void {
  const lock = join(tmpdir(), "conveyor-test-build.lock");
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than the longest build is left over from a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      if (Date.now() > deadline)
        throw new Error(`gave up waiting for ${lock}; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    run();
  } finally {
    rmdirSync(lock);
  }
}

/** A package whose dist a test needs, relative to the repo root. */
export interface BuiltPackage {
  dir: string;
  /** Files under dist/ that must exist. @defaultValue ["index.js"] */
  outputs?: readonly string[];
  /**
   * Rebuild when dist is older than the sources, not only when it is missing. Only for this
   * team's own packages: rebuilding another package's dist could pull it from under a test of
   * that package running at the same time.
   */
  rebuildStale?: boolean;
}

/**
 * Makes sure the `dist` each test needs is there, building it with tsup when missing (or stale,
 * with `rebuildStale`), one build at a time across test files. CI runs `pnpm build` before the
 * tests, so there this builds nothing.
 */
export function ensureBuilt(packages: readonly BuiltPackage[]): void {
  const wanted = packages.map((pkg) => ({
    dir: join(ROOT, pkg.dir),
    outputs: pkg.outputs ?? ["index.js"],
    rebuildStale: pkg.rebuildStale === true,
  }));
  const needsBuild = (pkg: (typeof wanted)[number]) =>
    pkg.outputs.some((output) => !existsSync(join(pkg.dir, "dist", output))) ||
    (pkg.rebuildStale && isStale(pkg.dir, pkg.outputs));
  if (!wanted.some(needsBuild)) return;
  withLock(() => {
    for (const pkg of wanted) {
      if (!needsBuild(pkg)) continue;
      execFileSync(process.execPath, [join(ROOT, "node_modules/tsup/dist/cli-default.js")], {
        cwd: pkg.dir,
        stdio: "pipe",
      });
    }
  });
}

/** The packages the built `conveyor` bin of @conveyor/cli loads. */
export const CLI_BUILD = [
  { dir: "packages/core" },
  { dir: "adapters/memory" },
  { dir: "packages/cli", outputs: ["index.js", "bin.js"], rebuildStale: true },
] satisfies BuiltPackage[];
