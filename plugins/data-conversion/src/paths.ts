import { realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { PathNotAllowedError } from "./errors.js";

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map(async (root) => realpath(resolve(root)).catch(() => resolve(root))));
}

function outsideError(path: string, roots: readonly string[]): PathNotAllowedError {
  return new PathNotAllowedError(
    path,
    `it is outside the allowed roots (${roots.join(", ")}). Use a path under one of them, or add a root with dataConversion({ roots: [...] })`,
    { reason: "outside-roots", roots },
  );
}

/**
 * The real path of an existing input file under one of `roots`: relative paths resolve against
 * the first root, and `..` and symlinks are resolved before the check, so neither can escape.
 */
export async function resolveInput(
  path: string,
  roots: readonly string[],
  maxBytes: number | undefined,
): Promise<{ path: string; bytes: number }> {
  const real = await realRoots(roots);
  const absolute = resolve(roots[0] ?? process.cwd(), path);
  if (
    !real.some((root) => inside(root, absolute)) &&
    !roots.some((root) => inside(resolve(root), absolute))
  ) {
    throw outsideError(path, roots);
  }
  let file: string;
  try {
    file = await realpath(absolute);
  } catch (cause) {
    throw new PathNotAllowedError(
      path,
      "the input file does not exist. Check the path",
      { reason: "missing" },
      { cause },
    );
  }
  if (!real.some((root) => inside(root, file))) throw outsideError(path, roots);
  const info = await stat(file);
  if (!info.isFile()) {
    throw new PathNotAllowedError(path, "the input is not a regular file. Pass a file, not a folder", {
      reason: "not-a-file",
    });
  }
  if (maxBytes !== undefined && info.size > maxBytes) {
    throw new PathNotAllowedError(
      path,
      `the input is ${info.size} bytes, over the limit of ${maxBytes} bytes. Split the file or raise maxInputBytes`,
      { reason: "too-large", bytes: info.size, maxBytes },
    );
  }
  return { path: file, bytes: info.size };
}

/**
 * The path of an output file under one of `roots`: its folder must exist and resolve (symlinks
 * included) inside a root; an existing output that is a symlink is refused.
 */
export async function resolveOutput(path: string, roots: readonly string[]): Promise<string> {
  const real = await realRoots(roots);
  const absolute = resolve(roots[0] ?? process.cwd(), path);
  let folder: string;
  try {
    folder = await realpath(dirname(absolute));
  } catch (cause) {
    if (!roots.some((root) => inside(resolve(root), absolute))) throw outsideError(path, roots);
    throw new PathNotAllowedError(
      path,
      "the output folder does not exist. Create it first",
      { reason: "missing" },
      { cause },
    );
  }
  const file = join(folder, basename(absolute));
  if (!real.some((root) => inside(root, file)) || file === folder) throw outsideError(path, roots);
  try {
    const existing = await realpath(file);
    if (existing !== file) {
      throw new PathNotAllowedError(path, "the output is a symbolic link. Write to a plain file", {
        reason: "symlink",
      });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return file;
}
