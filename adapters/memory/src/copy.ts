import { ValidationError } from "@conveyor/core";

// Beyond this depth the value is likely cyclic (or unusually deep): hand it to structuredClone,
// which handles cycles, instead of recursing further.
const MAX_FAST_DEPTH = 64;

class TooDeep extends Error {}

function fastCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object") {
    // structuredClone refuses functions and symbols; let it throw its DataCloneError.
    if (typeof value === "function" || typeof value === "symbol") return structuredClone(value);
    return value;
  }
  if (depth > MAX_FAST_DEPTH) throw new TooDeep();
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const source = value as unknown[];
    const out = new Array<unknown>(source.length);
    for (let i = 0; i < source.length; i++) out[i] = fastCopy(source[i], depth + 1);
    return out;
  }
  if (proto === Object.prototype || proto === null) {
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key in source) {
      if (Object.hasOwn(source, key)) out[key] = fastCopy(source[key], depth + 1);
    }
    return out;
  }
  // Dates, Maps, typed arrays, class instances: structuredClone knows their rules.
  return structuredClone(value);
}

/**
 * A deep copy with `structuredClone` semantics. Plain objects and arrays — nearly every job
 * input and result — are copied by a recursive walk that is several times faster than
 * `structuredClone`, which dominates the cost of a job otherwise; anything else, and any value
 * deeper than {@link MAX_FAST_DEPTH} (possibly cyclic), goes through `structuredClone`.
 * Throws `DataCloneError` for values `structuredClone` refuses (functions, symbols).
 */
export function copyValue<T>(value: T): T {
  if (value === null || typeof value !== "object") return fastCopy(value, 0) as T;
  try {
    return fastCopy(value, 0) as T;
  } catch (error) {
    if (error instanceof TooDeep) return structuredClone(value);
    throw error;
  }
}

/** {@link copyValue}, turning a refusal into a `ValidationError` that names what was refused. */
export function copyOrReject<T>(value: T, what: string, scope: string): T {
  try {
    return copyValue(value);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ValidationError(
      what,
      [
        {
          path: "",
          message: `cannot be stored (${reason}); use plain data: objects, arrays, strings, numbers`,
        },
      ],
      { scope, cause },
    );
  }
}
