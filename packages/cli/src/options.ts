import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { UsageError } from "./errors.js";

/** A commander parser for a whole number of at least `min`. */
export function wholeNumber(what: string, min: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min) {
      throw new InvalidArgumentError(`must be ${what}, a whole number of at least ${min}.`);
    }
    return number;
  };
}

/** A commander parser for a comma list (`a,b`); empty parts are dropped. */
export function commaList(value: string): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new InvalidArgumentError("must name at least one queue, e.g. --queues default,fast.");
  return items;
}

/**
 * Parses the value of `--input`: JSON text, or `@file` to read JSON from a file (relative to `cwd`).
 * Omitted, the input is `{}`.
 */
export async function parseInput(raw: string | undefined, cwd: string): Promise<unknown> {
  if (raw === undefined) return {};
  let text = raw;
  let source = "--input";
  if (raw.startsWith("@")) {
    const file = resolve(cwd, raw.slice(1));
    source = `--input ${raw} (${file})`;
    try {
      text = await readFile(file, "utf8");
    } catch (cause) {
      throw new UsageError(`${source} could not be read: ${(cause as Error).message}. Check the file path.`, {
        cause,
      });
    }
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new UsageError(
      `${source} is not valid JSON: ${(cause as Error).message}. Pass a JSON value in single quotes, e.g. --input '{"dir":"."}', or @file.json.`,
      { cause },
    );
  }
}
