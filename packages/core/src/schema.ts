import type { StandardSchemaV1 } from "@standard-schema/spec";
import { ValidationError, type ValidationIssue } from "./errors.js";

function issuePath(issue: StandardSchemaV1.Issue): string {
  if (!issue.path) return "";
  return issue.path.map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".");
}

/**
 * Validates `value` against a Standard Schema and returns the parsed value.
 * Throws {@link ValidationError} listing every issue; `what` names the value in the message.
 */
export async function validate<T>(
  schema: StandardSchemaV1<unknown, T> | undefined,
  value: unknown,
  what: string,
): Promise<T> {
  if (!schema) return value as T;
  let result = schema["~standard"].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) {
    const issues: ValidationIssue[] = result.issues.map((issue) => ({
      message: issue.message,
      path: issuePath(issue),
    }));
    throw new ValidationError(what, issues);
  }
  return result.value;
}
