import { ValidationError } from "@conveyor/core";

/** A value as stored in a text column: JSON, or NULL for undefined. */
export function encode(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value) ?? null;
}

/** The value of a text column written by {@link encode}. */
export function decode<T = unknown>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

/**
 * JSON for a value that must survive a round trip, or a `ValidationError` naming `what`: cycles,
 * BigInts, functions and symbols are refused rather than silently dropped.
 */
export function encodeOrReject(value: unknown, what: string): string | null {
  if (value === undefined) return null;
  let text: string | undefined;
  let reason = "it is not JSON data";
  try {
    text = JSON.stringify(value);
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  if (text === undefined) {
    throw new ValidationError(
      what,
      [
        {
          path: "",
          message: `cannot be stored (${reason}); use plain data: objects, arrays, strings, numbers`,
        },
      ],
      { scope: "disk" },
    );
  }
  return text;
}
