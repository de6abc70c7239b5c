const BRAND = Symbol.for("conveyor.error");

/** Options shared by every Conveyor error. */
export interface ConveyorErrorOptions {
  /** Machine-readable details (issues, names, limits). */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
  /** Whether trying again may succeed. */
  retryable?: boolean;
  /** Scope shown in the message prefix, e.g. `"redis"` gives `[conveyor:redis]`. */
  scope?: string;
}

/**
 * Base of every error Conveyor throws. Messages start with `[conveyor]` or `[conveyor:<scope>]`
 * and end with what to do about it.
 *
 * @example
 * ```ts
 * import { ConveyorError, isConveyorError } from "@conveyor/core";
 * try {
 *   throw new ConveyorError("EXAMPLE", "something went wrong. Try again later.");
 * } catch (error) {
 *   if (isConveyorError(error)) console.log(error.code);
 * }
 * ```
 */
export class ConveyorError extends Error {
  override name = "ConveyorError";
  /** Stable machine-readable code, e.g. `"VALIDATION"`. */
  readonly code: string;
  /** Machine-readable details. */
  readonly details: Record<string, unknown>;
  /** Whether trying again may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: ConveyorErrorOptions = {}) {
    super(`[conveyor${options.scope ? `:${options.scope}` : ""}] ${message}`, { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Whether `error` is a {@link ConveyorError}, across ESM and CJS copies of this package. */
export function isConveyorError(error: unknown): error is ConveyorError {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** One problem found by schema validation. */
export interface ValidationIssue {
  /** Human-readable description. */
  message: string;
  /** Where in the value, e.g. `"items.0.text"`; empty for the root. */
  path: string;
}

/** Input or output did not match a task's schema; `issues` says what and where. */
export class ValidationError extends ConveyorError {
  override name = "ValidationError" as const;
  /** Every problem found. */
  readonly issues: readonly ValidationIssue[];
  constructor(what: string, issues: readonly ValidationIssue[], options: ConveyorErrorOptions = {}) {
    const list = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
    super("VALIDATION", `${what} is invalid: ${list}. Fix the value to match the schema.`, {
      ...options,
      details: { ...options.details, issues },
    });
    this.issues = issues;
  }
}

/** A task name is not registered where it was used. */
export class UnknownTaskError extends ConveyorError {
  override name = "UnknownTaskError" as const;
  constructor(task: string, known: readonly string[], options: ConveyorErrorOptions = {}) {
    const hint = known.length ? `Registered tasks: ${known.join(", ")}.` : "No task is registered.";
    super(
      "UNKNOWN_TASK",
      `unknown task "${task}". ${hint} Register it with tasks: [...] or plugins: [...] in the config of every process that enqueues or runs it.`,
      { ...options, details: { ...options.details, task } },
    );
  }
}

/** The adapter in use cannot do what was asked. */
export class UnsupportedFeatureError extends ConveyorError {
  override name = "UnsupportedFeatureError" as const;
  constructor(adapter: string, feature: string, options: ConveyorErrorOptions = {}) {
    super(
      "UNSUPPORTED_FEATURE",
      `the "${adapter}" adapter does not support ${feature}. Use an adapter that declares it (see its capabilities), or do without it.`,
      { ...options, scope: options.scope ?? adapter, details: { ...options.details, adapter, feature } },
    );
  }
}

/** Something took longer than its limit (a job attempt, a wait for a result). */
export class TimeoutError extends ConveyorError {
  override name = "TimeoutError" as const;
  constructor(what: string, timeoutMs: number, hint: string, options: ConveyorErrorOptions = {}) {
    super("TIMEOUT", `${what} timed out after ${timeoutMs} ms. ${hint}`, {
      retryable: true,
      ...options,
      details: { ...options.details, timeoutMs },
    });
  }
}

/** A job's soft time limit passed; raised as `ctx.signal.reason` so the task can stop cleanly. */
export class SoftTimeoutError extends ConveyorError {
  override name = "SoftTimeoutError" as const;
  constructor(softTimeoutMs: number, options: ConveyorErrorOptions = {}) {
    super(
      "SOFT_TIMEOUT",
      `the job passed its soft time limit of ${softTimeoutMs} ms. Stop work and return or throw; the hard limit follows.`,
      { retryable: true, ...options, details: { ...options.details, softTimeoutMs } },
    );
  }
}

/** A backend could not be reached or answered with an error. */
export class BackendUnavailableError extends ConveyorError {
  override name = "BackendUnavailableError" as const;
  constructor(backend: string, message: string, options: ConveyorErrorOptions = {}) {
    super(
      "BACKEND_UNAVAILABLE",
      `${backend} is unavailable: ${message}. Check that it runs and the URL is right.`,
      {
        retryable: true,
        ...options,
        details: { ...options.details, backend },
      },
    );
  }
}

/**
 * A path given to a plugin is not allowed: outside the configured roots (after `..` and symlinks
 * are resolved), missing, not a regular file, over the size limit, a symbolic link where a plain
 * file is written, or the same file as the other side. `details.reason` says which. Never
 * retryable: the same path fails the same way.
 *
 * @example
 * ```ts
 * import { PathNotAllowedError } from "@conveyor/core";
 *
 * const error = new PathNotAllowedError("/etc/passwd", "it is outside the roots /srv/data", { reason: "outside-roots" });
 * console.log(error.code, error.details.reason); // "PATH_NOT_ALLOWED" "outside-roots"
 * ```
 */
export class PathNotAllowedError extends ConveyorError {
  override name = "PathNotAllowedError" as const;
  constructor(
    path: string,
    why: string,
    details: Record<string, unknown> = {},
    options: ConveyorErrorOptions = {},
  ) {
    super("PATH_NOT_ALLOWED", `the path "${path}" is not allowed: ${why}.`, {
      scope: "paths",
      ...options,
      retryable: false,
      details: { ...options.details, ...details, path },
    });
  }
}

/** The package behind a URL scheme is not installed where the app can import it. */
export class AdapterNotInstalledError extends ConveyorError {
  override name = "AdapterNotInstalledError" as const;
  constructor(scheme: string, packageName: string, options: ConveyorErrorOptions = {}) {
    super(
      "ADAPTER_NOT_INSTALLED",
      `the "${scheme}://" scheme needs the package ${packageName}, which is not installed. Run: npm install ${packageName}`,
      { ...options, details: { ...options.details, scheme, packageName } },
    );
  }
}

/** A configuration value is wrong: a bad URL, an unknown scheme, an invalid option. */
export class ConfigError extends ConveyorError {
  override name = "ConfigError" as const;
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super("CONFIG", message, options);
  }
}

/** A job handle's result was asked for, but the job failed; `jobError` is its stored error. */
export class JobFailedError extends ConveyorError {
  override name = "JobFailedError" as const;
  constructor(
    jobId: string,
    readonly jobError: { name: string; message: string; stack?: string; attempt: number },
    options: ConveyorErrorOptions = {},
  ) {
    super(
      "JOB_FAILED",
      `job ${jobId} failed after attempt ${jobError.attempt}: ${jobError.name}: ${jobError.message.replace(/\.\s*$/, "")}. Inspect it with \`conveyor status ${jobId}\` and retry it with \`conveyor retry ${jobId}\`.`,
      { ...options, details: { ...options.details, jobId, error: jobError } },
    );
  }
}

/** The job was cancelled: thrown by a handle's `result()`, and the reason of an aborted `ctx.signal`. */
export class JobCancelledError extends ConveyorError {
  override name = "JobCancelledError" as const;
  constructor(jobId: string, options: ConveyorErrorOptions = {}) {
    super(
      "JOB_CANCELLED",
      `job ${jobId} was cancelled. Enqueue it again or retry it if the work is still needed.`,
      {
        ...options,
        details: { ...options.details, jobId },
      },
    );
  }
}

/** A job id that does not exist (or has expired). */
export class JobNotFoundError extends ConveyorError {
  override name = "JobNotFoundError" as const;
  constructor(jobId: string, options: ConveyorErrorOptions = {}) {
    super(
      "JOB_NOT_FOUND",
      `no job with id "${jobId}". It never existed, was removed, or its result expired; check the id and the queue URL.`,
      { ...options, details: { ...options.details, jobId } },
    );
  }
}

/** An operation that the job's current state does not allow, e.g. retrying a completed job. */
export class JobStateError extends ConveyorError {
  override name = "JobStateError" as const;
  constructor(
    jobId: string,
    state: string,
    action: string,
    allowed: string,
    options: ConveyorErrorOptions = {},
  ) {
    super("JOB_STATE", `job ${jobId} is ${state}; only ${allowed} jobs can be ${action}.`, {
      ...options,
      details: { ...options.details, jobId, state },
    });
  }
}

/** The worker is shutting down without draining; the reason of an aborted `ctx.signal`. */
export class WorkerClosingError extends ConveyorError {
  override name = "WorkerClosingError" as const;
  constructor(options: ConveyorErrorOptions = {}) {
    super(
      "WORKER_CLOSING",
      "the worker is shutting down without draining; the job is released and will run again on another worker.",
      { retryable: true, ...options },
    );
  }
}

/**
 * The worker lost its claim on a job (its lease expired and another worker may hold it now); the
 * reason of an aborted `ctx.signal`. The job's outcome from this worker is dropped.
 */
export class LeaseLostError extends ConveyorError {
  override name = "LeaseLostError" as const;
  constructor(jobId: string, options: ConveyorErrorOptions = {}) {
    super(
      "LEASE_LOST",
      `the lease on job ${jobId} was lost (the worker stalled or lost its backend); the job runs again elsewhere. Stop work now; raise leaseMs if handlers block the event loop.`,
      { retryable: true, ...options, details: { ...options.details, jobId } },
    );
  }
}

/** An operation on a closed platform, worker or adapter. */
export class ClosedError extends ConveyorError {
  override name = "ClosedError" as const;
  constructor(what: string, options: ConveyorErrorOptions = {}) {
    super("CLOSED", `${what} is closed. Create a new one; do not use it after close().`, options);
  }
}

/** A job state change the state machine does not allow. */
export class IllegalTransitionError extends ConveyorError {
  override name = "IllegalTransitionError" as const;
  constructor(from: string, to: string, options: ConveyorErrorOptions = {}) {
    super(
      "ILLEGAL_TRANSITION",
      `a job cannot go from "${from}" to "${to}". This is a bug in the adapter that tried it; report it.`,
      { ...options, details: { ...options.details, from, to } },
    );
  }
}

/** Turns any thrown value into stored error data. */
export function serializeError(error: unknown, attempt: number) {
  if (error instanceof Error) {
    const code = isConveyorError(error) ? error.code : (error as { code?: unknown }).code;
    const retryable = isConveyorError(error) ? error.retryable : undefined;
    return {
      name: error.name,
      message: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
      ...(typeof code === "string" ? { code } : {}),
      attempt,
      ...(retryable === undefined ? {} : { retryable }),
    };
  }
  return {
    name: "Error",
    message: typeof error === "string" ? error : (JSON.stringify(error) ?? String(error)),
    attempt,
  };
}

/**
 * Throw this from a task to fail the job at once, without using its remaining retries
 * (BullMQ's `UnrecoverableError`, Celery's `Reject(requeue=False)`).
 *
 * @example
 * ```ts
 * import { defineTask, UnrecoverableError } from "@conveyor/core";
 * export const charge = defineTask({
 *   name: "billing.charge",
 *   retries: 5,
 *   run: ({ cardId }: { cardId: string }) => {
 *     if (!cardId) throw new UnrecoverableError("no card on file; ask the customer for one");
 *     return "charged";
 *   },
 * });
 * ```
 */
export class UnrecoverableError extends ConveyorError {
  override name = "UnrecoverableError" as const;
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super("UNRECOVERABLE", message, { ...options, retryable: false });
  }
}
