#!/usr/bin/env node
/**
 * Enforces the dependency rules of the Conveyor monorepo (DESIGN.md "Layout", STYLE.md rule 12).
 * Usage: node scripts/check-deps.mjs [repo-root]   (exit 0: all good, exit 1: violations listed)
 *
 * Rules, over every workspace package (the globs in pnpm-workspace.yaml):
 *  1. @conveyor/core depends on no other workspace package and on no backend library
 *     (ioredis, redis, bullmq, bee-queue, better-sqlite3, keyv, …), in any dependency field,
 *     and its source imports none of them.
 *  2. An adapter (adapters/*) or a plugin (plugins/*) never depends on another adapter or plugin,
 *     in any field. One exception, for tests only: @conveyor/memory (the embedded default) may be a
 *     devDependency of an adapter or a plugin. Plugins never import an adapter from src/.
 *  3. Adapters and plugins take @conveyor/core as a peerDependency, never as a dependency
 *     (a devDependency "workspace:*" next to the peer is expected).
 *  4. @conveyor/testing depends on no adapter (adapters run its suites: that would be a cycle).
 *  5. No cycle among workspace packages, over dependencies + peerDependencies +
 *     optionalDependencies + devDependencies.
 *  6. Every package a file imports is declared in its package.json: imports in src/ need
 *     dependencies, peerDependencies or optionalDependencies (src/ is published); imports in test/
 *     may also use devDependencies and the root package.json's tooling (vitest…). Workspace packages
 *     and npm packages alike; node builtins and
 *     self-imports are fine. Import specifiers are read with the TypeScript parser, so examples in
 *     doc comments do not count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(process.argv[2] ?? join(import.meta.dirname, ".."));

const CORE = "@conveyor/core";
const TESTING = "@conveyor/testing";
const MEMORY = "@conveyor/memory";
const FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"];
const RUNTIME_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];

/** Storage and queue backends: an adapter's business, never the core's. */
const BACKENDS = [
  "ioredis",
  "redis",
  /^@redis\//,
  "bullmq",
  "bee-queue",
  "better-sqlite3",
  "sqlite3",
  /^@libsql\//,
  "keyv",
  /^@keyv\//,
  "pg",
  "mysql2",
  "mongodb",
  "lmdb",
  "level",
  "classic-level",
  "amqplib",
  /^@aws-sdk\//,
];
const isBackend = (name) => BACKENDS.some((b) => (typeof b === "string" ? b === name : b.test(name)));

const SOURCE_EXT = /\.(?:[cm]?ts|tsx|[cm]?js|jsx)$/;
const builtins = new Set(builtinModules);

// ---------------------------------------------------------------- workspace discovery

function workspaceGlobs() {
  const file = join(root, "pnpm-workspace.yaml");
  if (!existsSync(file)) throw new Error(`no pnpm-workspace.yaml in ${root}`);
  const globs = [];
  let inPackages = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (/^packages:\s*$/.test(line)) {
      inPackages = true;
      continue;
    }
    if (inPackages) {
      const item = line.match(/^\s+-\s+["']?([^"'#]+?)["']?\s*$/);
      if (item) globs.push(item[1]);
      else if (/^\S/.test(line)) inPackages = false;
    }
  }
  return globs;
}

function workspaceDirs() {
  const dirs = [];
  for (const glob of workspaceGlobs()) {
    if (glob.startsWith("!")) continue;
    if (glob.endsWith("/*")) {
      const parent = join(root, glob.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent, { withFileTypes: true })) {
        if (entry.isDirectory()) dirs.push(join(parent, entry.name));
      }
    } else if (!glob.includes("*")) {
      dirs.push(join(root, glob));
    } else {
      throw new Error(`unsupported workspace glob "${glob}"; teach scripts/check-deps.mjs about it`);
    }
  }
  return dirs;
}

function kindOf(dir) {
  const rel = relative(root, dir).split("\\").join("/");
  if (rel.startsWith("adapters/")) return "adapter";
  if (rel.startsWith("plugins/")) return "plugin";
  if (rel.startsWith("packages/")) return "package";
  return "other";
}

const packages = [];
const skipped = [];
for (const dir of workspaceDirs()) {
  const file = join(dir, "package.json");
  if (!existsSync(file)) {
    skipped.push(relative(root, dir));
    continue;
  }
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  packages.push({
    dir,
    rel: relative(root, dir),
    name: manifest.name ?? relative(root, dir),
    manifest,
    kind: kindOf(dir),
  });
}
const byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
const isWorkspace = (name) => byName.has(name);
const isAdapterOrPlugin = (name) => ["adapter", "plugin"].includes(byName.get(name)?.kind);
const isAdapter = (name) => byName.get(name)?.kind === "adapter";

/** Every [dependency name, field] of a manifest. */
function declared(manifest, fields = FIELDS) {
  const out = [];
  for (const field of fields) {
    for (const name of Object.keys(manifest[field] ?? {})) out.push([name, field]);
  }
  return out;
}

// ---------------------------------------------------------------- rules over package.json

const problems = [];
const report = (pkg, message) => problems.push(`${pkg.name} (${pkg.rel}/package.json): ${message}`);

for (const pkg of packages) {
  const deps = declared(pkg.manifest);

  if (pkg.name === CORE) {
    for (const [name, field] of deps) {
      if (isWorkspace(name)) {
        report(
          pkg,
          `the core must not depend on the workspace package ${name} (${field}); it reaches adapters through the registry.`,
        );
      }
      if (isBackend(name)) {
        report(
          pkg,
          `the core must not depend on the backend library ${name} (${field}); move that code to an adapter.`,
        );
      }
    }
  }

  if (pkg.kind === "adapter" || pkg.kind === "plugin") {
    for (const [name, field] of deps) {
      if (!isAdapterOrPlugin(name) || name === pkg.name) continue;
      if (name === MEMORY && field === "devDependencies") continue;
      const what = `${byName.get(name).kind} ${name}`;
      report(
        pkg,
        name === MEMORY
          ? `${pkg.kind}s may use ${MEMORY} in devDependencies only (for tests), not in ${field}.`
          : `${pkg.kind === "adapter" ? "an" : "a"} ${pkg.kind} must not depend on the ${what} (${field}); depend on ${CORE} only.`,
      );
    }
    const peers = pkg.manifest.peerDependencies ?? {};
    if (!(CORE in peers)) {
      report(
        pkg,
        `${pkg.kind === "adapter" ? "an" : "a"} ${pkg.kind} must take ${CORE} as a peerDependency ("${CORE}": "workspace:^").`,
      );
    }
    if (CORE in (pkg.manifest.dependencies ?? {})) {
      report(pkg, `${CORE} belongs in peerDependencies, not dependencies (one core per application).`);
    }
  }

  if (pkg.name === TESTING) {
    for (const [name, field] of deps) {
      if (isAdapter(name)) {
        report(
          pkg,
          `${TESTING} must not depend on the adapter ${name} (${field}): adapters run its suites, so that is a cycle.`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------- cycles

const graph = new Map(
  packages.map((pkg) => [
    pkg.name,
    [...new Set(declared(pkg.manifest).map(([name]) => name))].filter(
      (n) => isWorkspace(n) && n !== pkg.name,
    ),
  ]),
);
const cycles = new Set();
const state = new Map(); // undefined: unvisited, 1: on the stack, 2: done
const stack = [];
function visit(name) {
  state.set(name, 1);
  stack.push(name);
  for (const next of graph.get(name) ?? []) {
    if (state.get(next) === 1) {
      const cycle = stack.slice(stack.indexOf(next));
      // Rotate so the same cycle found from another start prints once.
      const start = cycle.indexOf([...cycle].sort()[0]);
      const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
      cycles.add([...rotated, rotated[0]].join(" -> "));
    } else if (state.get(next) === undefined) {
      visit(next);
    }
  }
  stack.pop();
  state.set(name, 2);
}
for (const name of graph.keys()) if (state.get(name) === undefined) visit(name);
for (const cycle of cycles) {
  problems.push(
    `dependency cycle among workspace packages: ${cycle} (over dependencies, peer, optional and dev).`,
  );
}

// ---------------------------------------------------------------- imports in source files

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (SOURCE_EXT.test(entry.name) && !entry.name.endsWith(".d.ts") && statSync(path).isFile())
      yield path;
  }
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; null for relative, absolute, URL or builtin. */
function packageOf(specifier) {
  if (/^[./]/.test(specifier) || /^[a-z]+:/i.test(specifier) || specifier.startsWith("#")) return null;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  if (builtins.has(name) || builtins.has(specifier)) return null;
  return name;
}

function importsOf(file) {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((ref) => ({ specifier: ref.fileName, pos: ref.pos, file }));
}

function lineOf(file, pos) {
  return readFileSync(file, "utf8").slice(0, pos).split("\n").length;
}

const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const rootTooling = new Set(declared(rootManifest).map(([name]) => name));

for (const pkg of packages) {
  const runtime = new Set(declared(pkg.manifest, RUNTIME_FIELDS).map(([name]) => name));
  const dev = new Set(declared(pkg.manifest, ["devDependencies"]).map(([name]) => name));
  for (const [folder, allowDev] of [
    ["src", false],
    ["test", true],
  ]) {
    for (const file of sourceFiles(join(pkg.dir, folder))) {
      for (const { specifier, pos } of importsOf(file)) {
        const name = packageOf(specifier);
        if (name === null || name === pkg.name) continue;
        const where = `${relative(root, file)}:${lineOf(file, pos)}`;
        if (pkg.name === CORE && folder === "src" && (isWorkspace(name) || isBackend(name))) {
          problems.push(
            `${where}: the core imports "${specifier}"; the core imports no adapter, plugin or backend library.`,
          );
          continue;
        }
        if (runtime.has(name) || (allowDev && (dev.has(name) || rootTooling.has(name)))) continue;
        if (dev.has(name)) {
          problems.push(
            `${where}: "${specifier}" is imported from src/ but ${name} is only a devDependency of ${pkg.name}; published code needs it in dependencies or peerDependencies.`,
          );
        } else {
          const kind = isWorkspace(name) ? "workspace package" : "package";
          problems.push(
            `${where}: imports the ${kind} "${specifier}", which ${pkg.name}'s package.json does not declare. Add ${name} to its ${allowDev ? "devDependencies" : "dependencies or peerDependencies"}.`,
          );
        }
      }
    }
  }
}

// ---------------------------------------------------------------- verdict

for (const dir of skipped) console.log(`check-deps: skipped ${dir} (no package.json yet)`);
if (problems.length > 0) {
  console.error(`check-deps: ${problems.length} dependency rule violation(s):`);
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error("The rules are in the header of scripts/check-deps.mjs and in docs/guide/contributing.md.");
  process.exit(1);
}
console.log(`check-deps: ${packages.length} workspace packages follow the dependency rules.`);
