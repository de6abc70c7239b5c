import { realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { PathNotAllowedError } from "./errors.js";

/**
 * Where paths given to a plugin may point, and how refusals are worded.
 *
 * @example
 * ```ts
 * import type { PathRootsOptions } from "@conveyor/core";
 * const fence: PathRootsOptions = { roots: ["/srv/data"], scope: "translation", hint: "translation({ roots: [...] })" };
 * ```
 */
export interface PathRootsOptions {
  /**
   * Folders every path must stay in, after `..` and symlinks are resolved; relative paths resolve
   * against the first one.
   * @defaultValue `[process.cwd()]`
   */
  roots?: readonly string[] | undefined;
  /** Scope of the error messages, e.g. `"translation"` gives `[conveyor:translation]`. @defaultValue `"paths"` */
  scope?: string | undefined;
  /** How the user adds a root, named in the refusal, e.g. `"translation({ roots: [...] })"`. @defaultValue `"the plugin's roots option"` */
  hint?: string | undefined;
}

/**
 * Options of {@link resolveInputPath}.
 *
 * @example
 * ```ts
 * import type { ResolveInputOptions } from "@conveyor/core";
 * const options: ResolveInputOptions = { roots: ["/srv/data"], maxBytes: 2 ** 30 };
 * ```
 */
export interface ResolveInputOptions extends PathRootsOptions {
  /** Largest file accepted, in bytes. @defaultValue no limit */
  maxBytes?: number | undefined;
}

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

function rootsOf(options: PathRootsOptions): string[] {
  return (options.roots?.length ? options.roots : [process.cwd()]).map((root) => resolve(root));
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map(async (root) => realpath(root).catch(() => root)));
}

function outsideError(
  path: string,
  roots: readonly string[],
  options: PathRootsOptions,
): PathNotAllowedError {
  return new PathNotAllowedError(
    path,
    `it is outside the allowed roots (${roots.join(", ")}). Use a path under one of them, or add a root with ${options.hint ?? "the plugin's roots option"}`,
    { reason: "outside-roots", roots },
    { scope: options.scope ?? "paths" },
  );
}

/**
 * The real path and size of an existing input file under one of the roots. Relative paths
 * resolve against the first root; `..` and symlinks are resolved before the check, so neither can
 * escape. Throws {@link PathNotAllowedError} with `details.reason` `"outside-roots"`, `"missing"`,
 * `"not-a-file"` or `"too-large"`.
 *
 * @example
 * ```ts
 * import { resolveInputPath } from "@conveyor/core";
 *
 * const { path, bytes } = await resolveInputPath("orders.csv", { roots: [process.cwd()], maxBytes: 2 ** 30 });
 * console.log(path, bytes);
 * ```
 */
export async function resolveInputPath(
  path: string,
  options: ResolveInputOptions = {},
): Promise<{ path: string; bytes: number }> {
  const roots = rootsOf(options);
  const scope = options.scope ?? "paths";
  const real = await realRoots(roots);
  const absolute = resolve(roots[0] as string, path);
  if (!real.some((root) => inside(root, absolute)) && !roots.some((root) => inside(root, absolute))) {
    throw outsideError(path, roots, options);
  }
  let file: string;
  try {
    file = await realpath(absolute);
  } catch (cause) {
    throw new PathNotAllowedError(
      path,
      "the input file does not exist. Check the path",
      { reason: "missing" },
      { cause, scope },
    );
  }
  if (!real.some((root) => inside(root, file))) throw outsideError(path, roots, options);
  const info = await stat(file);
  if (!info.isFile()) {
    throw new PathNotAllowedError(
      path,
      "the input is not a regular file. Pass a file, not a folder",
      { reason: "not-a-file" },
      { scope },
    );
  }
  if (options.maxBytes !== undefined && info.size > options.maxBytes) {
    throw new PathNotAllowedError(
      path,
      `the input is ${info.size} bytes, over the limit of ${options.maxBytes} bytes. Split the file or raise the size limit`,
      { reason: "too-large", bytes: info.size, maxBytes: options.maxBytes },
      { scope },
    );
  }
  return { path: file, bytes: info.size };
}

/**
 * The path to write an output file to, under one of the roots: its folder must exist and resolve
 * (symlinks included) inside a root, and an existing output that is a symlink is refused. Throws
 * {@link PathNotAllowedError} with `details.reason` `"outside-roots"`, `"missing"` or `"symlink"`.
 *
 * @example
 * ```ts
 * import { resolveOutputPath } from "@conveyor/core";
 *
 * const target = await resolveOutputPath("out/orders.parquet", { roots: [process.cwd()] });
 * console.log(target);
 * ```
 */
export async function resolveOutputPath(path: string, options: PathRootsOptions = {}): Promise<string> {
  const roots = rootsOf(options);
  const scope = options.scope ?? "paths";
  const real = await realRoots(roots);
  const absolute = resolve(roots[0] as string, path);
  let folder: string;
  try {
    folder = await realpath(dirname(absolute));
  } catch (cause) {
    if (!roots.some((root) => inside(root, absolute))) throw outsideError(path, roots, options);
    throw new PathNotAllowedError(
      path,
      "the output folder does not exist. Create it first",
      { reason: "missing" },
      { cause, scope },
    );
  }
  const file = join(folder, basename(absolute));
  if (!real.some((root) => inside(root, file)) || file === folder) throw outsideError(path, roots, options);
  try {
    const existing = await realpath(file);
    if (existing !== file) {
      throw new PathNotAllowedError(
        path,
        "the output is a symbolic link. Write to a plain file",
        { reason: "symlink" },
        { scope },
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return file;
}
