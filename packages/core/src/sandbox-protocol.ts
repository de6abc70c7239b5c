import type { Progress } from "./contracts/job.js";
import { ConveyorError, isConveyorError } from "./errors.js";

/** An error as it crosses the sandbox boundary (structured clone drops an error's own fields). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** Set for Conveyor errors (and errors with a string `code`). */
  code?: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
  conveyor?: boolean;
}

/** What a job's run in a sandbox knows about its job. */
export interface WireJob {
  jobId: string;
  queue: string;
  attempt: number;
  maxAttempts: number;
}

/** Targets a sandboxed task may call back into the worker for. */
export type WireTarget = "cache" | "rateLimiter";

/** Messages from the worker to a sandbox. */
export type ToSandbox =
  | { t: "run"; id: number; module: string; task: string; input: unknown; job: WireJob }
  | { t: "abort"; id: number; reason: WireError }
  | { t: "reply"; id: number; ok: true; value: unknown }
  | { t: "reply"; id: number; ok: false; error: WireError }
  | { t: "close" };

/** Messages from a sandbox to the worker. */
export type FromSandbox =
  | { t: "ready" }
  | { t: "progress"; id: number; progress: Progress }
  | {
      t: "log";
      id: number | undefined;
      level: "debug" | "info" | "warn" | "error";
      message: string;
      fields?: Record<string, unknown>;
    }
  | { t: "call"; id: number; target: WireTarget; method: string; args: unknown[] }
  | { t: "done"; id: number; ok: true; value: unknown }
  | { t: "done"; id: number; ok: false; error: WireError };

/** Methods a sandbox may call on the worker's cache and rate limiter (never `close`). */
export const WIRE_METHODS: Record<WireTarget, readonly string[]> = {
  cache: ["get", "getMany", "set", "setMany", "has", "delete", "clear", "stats"],
  rateLimiter: ["consume", "peek", "reset"],
};

/** Turns anything thrown into a {@link WireError}. */
export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) {
    return {
      name: "Error",
      message: typeof error === "string" ? error : (JSON.stringify(error) ?? String(error)),
    };
  }
  const conveyor = isConveyorError(error);
  const code = conveyor ? error.code : (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    ...(error.stack ? { stack: error.stack } : {}),
    ...(typeof code === "string" ? { code } : {}),
    ...(conveyor ? { conveyor, retryable: error.retryable, details: safeDetails(error.details) } : {}),
  };
}

function safeDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return structuredClone(details);
  } catch {
    return undefined;
  }
}

/**
 * Rebuilds an error on this side of the boundary with its name, message, stack and code; a
 * Conveyor error comes back as a `ConveyorError` with the same `retryable`, so an
 * `UnrecoverableError` thrown in a sandbox still skips the retries.
 */
export function fromWireError(wire: WireError): Error {
  const error: Error = wire.conveyor
    ? new ConveyorError(wire.code ?? "ERROR", "", {
        retryable: wire.retryable ?? false,
        ...(wire.details ? { details: wire.details } : {}),
      })
    : new Error();
  error.name = wire.name;
  error.message = wire.message;
  if (!wire.conveyor && wire.code !== undefined) (error as Error & { code: string }).code = wire.code;
  error.stack = wire.stack ?? `${wire.name}: ${wire.message}`;
  return error;
}
