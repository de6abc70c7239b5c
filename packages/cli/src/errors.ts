import { ConveyorError, type ConveyorErrorOptions, isConveyorError } from "@conveyor/core";

/**
 * The exit codes of the `conveyor` command.
 *
 * @example
 * ```ts
 * import { EXIT_CODES, runCli } from "@conveyor/cli";
 * const code = await runCli(["result", "some-id"]);
 * if (code === EXIT_CODES.timeout) console.log("not finished yet");
 * ```
 */
export const EXIT_CODES = {
  /** The command did what was asked. */
  ok: 0,
  /** The job failed or was cancelled. */
  jobFailed: 1,
  /** Bad usage, invalid input, unknown task or job, or a configuration error. */
  usage: 2,
  /** A backend failed or could not be reached. */
  backend: 3,
  /** No worker answered (`ping`, `control`): none has a live heartbeat, or none replied in time (EX_UNAVAILABLE, as Celery). */
  unavailable: 69,
  /** The wait for a result ended before the job finished. */
  timeout: 124,
  /** The wait or worker was interrupted from outside (the `signal` of {@link CliIo}). */
  interrupted: 130,
  /**
   * A `conveyor worker` child reached `--max-jobs-per-process` or `--max-memory-per-process-mb`
   * and drained; its supervisor starts a fresh one (EX_TEMPFAIL).
   */
  recycled: 75,
} as const;

/**
 * A command line that cannot work as written: a bad flag value, invalid `--input` JSON.
 * Exits with {@link EXIT_CODES.usage}.
 *
 * @example
 * ```ts
 * import { UsageError } from "@conveyor/cli";
 * throw new UsageError("--input is not valid JSON. Pass a JSON value, e.g. --input '{\"a\":1}'.");
 * ```
 */
export class UsageError extends ConveyorError {
  override name = "UsageError" as const;
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super("USAGE", message, { scope: "cli", ...options });
  }
}

/**
 * No worker could be reached: none has a live heartbeat in the cache (or none with the given
 * id), or none answered a ping in time. Exits with {@link EXIT_CODES.unavailable}.
 *
 * @example
 * ```ts
 * import { NoWorkersError } from "@conveyor/cli";
 * throw new NoWorkersError("no worker has a live heartbeat. Start one with `conveyor worker`.");
 * ```
 */
export class NoWorkersError extends ConveyorError {
  override name = "NoWorkersError" as const;
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super("NO_WORKERS", message, { scope: "cli", ...options });
  }
}

const BY_CODE: Record<string, number> = {
  JOB_FAILED: EXIT_CODES.jobFailed,
  JOB_CANCELLED: EXIT_CODES.jobFailed,
  TIMEOUT: EXIT_CODES.timeout,
  NOT_FINISHED: EXIT_CODES.timeout,
  INTERRUPTED: EXIT_CODES.interrupted,
  NO_WORKERS: EXIT_CODES.unavailable,
  USAGE: EXIT_CODES.usage,
  VALIDATION: EXIT_CODES.usage,
  CONFIG: EXIT_CODES.usage,
  UNKNOWN_TASK: EXIT_CODES.usage,
  JOB_NOT_FOUND: EXIT_CODES.usage,
  JOB_STATE: EXIT_CODES.usage,
  UNSUPPORTED_FEATURE: EXIT_CODES.usage,
  ADAPTER_NOT_INSTALLED: EXIT_CODES.usage,
};

/**
 * The exit code for an error: Conveyor errors by their `code`, anything else (a backend
 * library's own error) is a backend error.
 *
 * @example
 * ```ts
 * import { ValidationError } from "@conveyor/core";
 * import { exitCodeFor } from "@conveyor/cli";
 * exitCodeFor(new ValidationError("input", [])); // 2
 * ```
 */
export function exitCodeFor(error: unknown): number {
  if (isConveyorError(error)) return BY_CODE[error.code] ?? EXIT_CODES.backend;
  return EXIT_CODES.backend;
}
