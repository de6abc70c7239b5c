import { ConveyorError, type ConveyorErrorOptions, isConveyorError } from "@conveyor/core";

/**
 * An error the HTTP layer raises itself (bad JSON, a body too large, a missing token), carrying
 * the HTTP status it is answered with. Errors from the platform (`ValidationError`,
 * `JobNotFoundError`, …) are mapped to a status by {@link statusForError} instead.
 *
 * @example
 * ```ts
 * import { HttpError } from "@conveyor/server";
 *
 * const error = new HttpError(413, "PAYLOAD_TOO_LARGE", "the body is larger than 1048576 bytes. Send less.");
 * console.log(error.status, error.code); // 413 PAYLOAD_TOO_LARGE
 * ```
 */
export class HttpError extends ConveyorError {
  override name = "HttpError" as const;
  /** The HTTP status code of the answer. */
  readonly status: number;
  /** Headers to add to the answer (`Allow`, `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: ConveyorErrorOptions & { headers?: Record<string, string> } = {},
  ) {
    super(code, message, { scope: "server", ...options });
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  VALIDATION: 400,
  CONFIG: 400,
  UNKNOWN_TASK: 404,
  JOB_NOT_FOUND: 404,
  JOB_STATE: 409,
  TIMEOUT: 504,
  UNSUPPORTED_FEATURE: 501,
  BACKEND_UNAVAILABLE: 503,
  CLOSED: 503,
  ADAPTER_NOT_INSTALLED: 500,
};

/**
 * The HTTP status an error is answered with: an {@link HttpError}'s own status, a Conveyor
 * error's by its code (validation 400, unknown task or job 404, wrong job state 409, unsupported
 * feature 501, backend unavailable 503), anything else 500.
 *
 * @example
 * ```ts
 * import { JobNotFoundError } from "@conveyor/core";
 * import { statusForError } from "@conveyor/server";
 *
 * console.log(statusForError(new JobNotFoundError("42"))); // 404
 * ```
 */
export function statusForError(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (isConveyorError(error)) return STATUS_BY_CODE[error.code] ?? 500;
  return 500;
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: {
    /** Stable machine-readable code, e.g. `"VALIDATION"`, `"UNAUTHORIZED"`. */
    code: string;
    /** What was wrong and what to do; starts with `[conveyor:<scope>]`. */
    message: string;
    /** Machine-readable details: `issues` for validation errors, `jobId`, `task`, limits. */
    details: Record<string, unknown>;
  };
}

/**
 * Turns an error into the JSON body of its answer. Unexpected errors (not Conveyor errors) are
 * answered with a generic message: their text may hold internals, so it goes to the log only.
 *
 * @example
 * ```ts
 * import { ValidationError } from "@conveyor/core";
 * import { errorBody } from "@conveyor/server";
 *
 * const body = errorBody(new ValidationError("input", [{ path: "text", message: "Required" }]));
 * console.log(body.error.code, body.error.details.issues);
 * ```
 */
export function errorBody(error: unknown): ErrorBody {
  if (isConveyorError(error)) {
    return { error: { code: error.code, message: error.message, details: error.details } };
  }
  return {
    error: {
      code: "INTERNAL",
      message:
        "[conveyor:server] the server failed to answer this request. The error is in the server's log; report it if it persists.",
      details: {},
    },
  };
}
