import type { TaskOptions } from "@conveyor/core";

/**
 * A tiny Standard Schema builder for the suites, so `@conveyor/testing` needs no validation
 * library. It reports every issue with its path, the way zod or valibot do.
 */
export type StandardSchema<T> = NonNullable<TaskOptions<T, unknown>["input"]>;

interface Issue {
  message: string;
  path: PropertyKey[];
}

/** One node of a schema: checks a value at `path`, records issues, returns the parsed value. */
export interface Shape<T> {
  check(value: unknown, path: PropertyKey[], issues: Issue[]): T;
}

export const number = (): Shape<number> => ({
  check(value, path, issues) {
    if (typeof value !== "number" || !Number.isFinite(value))
      issues.push({ message: "expected a number", path });
    return value as number;
  },
});

export const string = (): Shape<string> => ({
  check(value, path, issues) {
    if (typeof value !== "string") issues.push({ message: "expected a string", path });
    return value as string;
  },
});

/** A number written as digits in a string (or a number): parses to a number, like `z.coerce.number()`. */
export const numeric = (): Shape<number> => ({
  check(value, path, issues) {
    const parsed = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof parsed !== "number" || !Number.isFinite(parsed))
      issues.push({ message: "expected digits", path });
    return parsed as number;
  },
});

export const array = <T>(item: Shape<T>): Shape<T[]> => ({
  check(value, path, issues) {
    if (!Array.isArray(value)) {
      issues.push({ message: "expected an array", path });
      return value as T[];
    }
    return value.map((entry, index) => item.check(entry, [...path, index], issues));
  },
});

export const object = <S extends Record<string, Shape<unknown>>>(
  shape: S,
): Shape<{ [K in keyof S]: S[K] extends Shape<infer T> ? T : never }> => ({
  check(value, path, issues) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      issues.push({ message: "expected an object", path });
      return value as never;
    }
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(shape)) {
      out[key] = field.check((value as Record<string, unknown>)[key], [...path, key], issues);
    }
    return out as never;
  },
});

/** Turns a shape into a Standard Schema (v1) the core can validate with. */
export function schema<T>(shape: Shape<T>): StandardSchema<T> {
  return {
    "~standard": {
      version: 1,
      vendor: "conveyor-conformance",
      validate(value: unknown) {
        const issues: Issue[] = [];
        const parsed = shape.check(value, [], issues);
        return issues.length > 0 ? { issues } : { value: parsed };
      },
    },
  };
}

/**
 * A schema that accepts anything but, while `hold()` returns a promise, waits for it before
 * answering: it keeps a worker inside input validation, before the task starts.
 */
export function slowSchema<T>(hold: () => Promise<unknown> | undefined): StandardSchema<T> {
  return {
    "~standard": {
      version: 1,
      vendor: "conveyor-conformance",
      async validate(value: unknown) {
        await hold();
        return { value: value as T };
      },
    },
  };
}
