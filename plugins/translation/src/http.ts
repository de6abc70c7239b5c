import type { RateLimit, RateLimiter } from "@conveyor/core";
import { sleep } from "./engine.js";
import { EngineUnavailableError, TranslationEngineError } from "./errors.js";

/**
 * Options every HTTP engine takes: time limits, retries and the provider's quota.
 *
 * @example
 * ```ts
 * import type { HttpEngineOptions } from "@conveyor/plugin-translation";
 * const options: HttpEngineOptions = { timeoutMs: 10_000, retries: 5, rateLimit: { points: 5, durationMs: 1_000 } };
 * ```
 */
export interface HttpEngineOptions {
  /** Limit of one HTTP request, in ms; a request over it is retried like a 5xx. @defaultValue 30000 */
  timeoutMs?: number;
  /** Extra attempts after a 429, a 5xx, a timeout or a network error. @defaultValue 3 */
  retries?: number;
  /** First delay between attempts when the server sends no `Retry-After`, doubled each time. @defaultValue 500 */
  retryDelayMs?: number;
  /**
   * Longest wait for one retry. A `Retry-After` longer than this fails the call (retryable, with
   * `details.retryAfterMs`) so the job's own backoff takes over instead of holding a worker slot.
   * @defaultValue 60000
   */
  maxRetryDelayMs?: number;
  /**
   * Stay under the provider's quota: `points` per `durationMs`, counted in requests or in
   * characters sent, on the RateLimiter the call is given (the plugin passes the platform's, so
   * every worker on a shared backend counts against the same quota). A call over the limit waits
   * until points free up.
   * @defaultValue no limit
   */
  rateLimit?: HttpRateLimit;
  /** The `fetch` to use (a proxy agent, a test double of the network). @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

/**
 * A provider quota, for {@link HttpEngineOptions.rateLimit}.
 *
 * @example
 * ```ts
 * import type { HttpRateLimit } from "@conveyor/plugin-translation";
 * const quota: HttpRateLimit = { points: 500_000, durationMs: 30 * 86_400_000, per: "character" };
 * ```
 */
export interface HttpRateLimit extends RateLimit {
  /** What a point is: one request, or one character of text sent. @defaultValue "request" */
  per?: "request" | "character";
  /** The limiter's key; engines sharing a key share the quota. @defaultValue `"translation:<engine>"` */
  key?: string;
  /** A limiter to use when the call is given none (standalone use). @defaultValue none */
  limiter?: RateLimiter;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Defaults of {@link HttpEngineOptions}, applied once per engine. */
export const HTTP_DEFAULTS = {
  timeoutMs: 30_000,
  retries: 3,
  retryDelayMs: 500,
  maxRetryDelayMs: 60_000,
} satisfies HttpEngineOptions;

export type HttpSettings = Required<Pick<HttpEngineOptions, keyof typeof HTTP_DEFAULTS>> &
  Pick<HttpEngineOptions, "rateLimit" | "fetch">;

export function httpSettings(engine: string, options: HttpEngineOptions): HttpSettings {
  const settings = { ...HTTP_DEFAULTS, ...options };
  for (const field of ["timeoutMs", "retries", "retryDelayMs", "maxRetryDelayMs"] as const) {
    const value = settings[field];
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(
        `[conveyor:translation] ${engine}({ ${field} }) must be a non-negative number, got ${value}.`,
      );
    }
  }
  return settings;
}

/** The API key from the option or the environment, or a clear error naming both. */
export function apiKey(engine: string, given: string | undefined, envNames: readonly string[]): string {
  const key = given ?? envNames.map((name) => process.env[name]).find((value) => value);
  if (!key) {
    throw new EngineUnavailableError(
      engine,
      `no API key. Set ${envNames.join(" or ")} in the worker's environment, or pass apiKey`,
    );
  }
  return key;
}

/** `Retry-After` in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Waits until the quota grants `cost` points (points of a refused call are not taken). */
async function consumeQuota(
  engine: string,
  limiter: RateLimiter | undefined,
  limit: HttpRateLimit | undefined,
  cost: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const store = limiter ?? limit?.limiter;
  if (!limit || !store || cost === 0) return;
  if (cost > limit.points) {
    throw new TranslationEngineError(
      engine,
      `one request needs ${cost} quota points but the limit is ${limit.points} per ${limit.durationMs} ms. Send smaller batches or raise rateLimit.points`,
      { retryable: false, details: { cost, points: limit.points } },
    );
  }
  const key = limit.key ?? `translation:${engine}`;
  for (;;) {
    const answer = await store.consume(key, limit, cost);
    if (answer.allowed) return;
    await sleep(Math.max(1, answer.resetMs), signal);
  }
}

/** Cuts a response body for an error message; never the request (it may carry the key). */
function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/** What {@link requestJson} sends. */
export interface JsonRequest {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: unknown;
  /** Quota points this request costs. @defaultValue 1 */
  cost?: number;
  signal?: AbortSignal | undefined;
  rateLimiter?: RateLimiter | undefined;
  /** Turns a non-2xx answer into a message (a provider's own error codes). */
  describe?(status: number, body: string): string | undefined;
  /** Statuses that are final whatever the defaults say (DeepL's 456, quota exceeded). */
  fatal?: readonly number[];
}

/**
 * One JSON request with the engine's time limit, retries on 429/5xx/timeouts/network errors
 * (honouring `Retry-After`, else exponential backoff) and the quota consumed before every attempt.
 */
export async function requestJson(
  engine: string,
  settings: HttpSettings,
  request: JsonRequest,
): Promise<unknown> {
  const doFetch = settings.fetch ?? globalThis.fetch;
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  let attempt = 0;
  for (;;) {
    attempt++;
    request.signal?.throwIfAborted();
    const limit = settings.rateLimit;
    await consumeQuota(engine, request.rateLimiter, limit, request.cost ?? 1, request.signal);
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let failure: TranslationEngineError;
    let waitMs: number | undefined;
    try {
      const response = await doFetch(request.url, {
        method: request.method ?? (body === undefined ? "GET" : "POST"),
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...request.headers,
        },
        ...(body === undefined ? {} : { body }),
        signal,
      });
      const text = await response.text();
      if (response.ok) {
        try {
          return JSON.parse(text);
        } catch (cause) {
          throw new TranslationEngineError(
            engine,
            `HTTP ${response.status} from ${request.url} is not JSON: ${excerpt(text)}. Check the engine's URL`,
            { retryable: false, cause, details: { status: response.status } },
          );
        }
      }
      const retryable = RETRYABLE_STATUS.has(response.status) && !request.fatal?.includes(response.status);
      waitMs = retryAfterMs(response.headers.get("retry-after"));
      const described = request.describe?.(response.status, text);
      failure = new TranslationEngineError(
        engine,
        `HTTP ${response.status} from ${request.url}: ${described ?? excerpt(text)}${retryable ? "" : ". Check the request, the key and the plan"}`,
        {
          retryable,
          details: { status: response.status, ...(waitMs !== undefined ? { retryAfterMs: waitMs } : {}) },
        },
      );
      if (!retryable) throw failure;
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      if (error instanceof TranslationEngineError) {
        if (!error.retryable) throw error;
        failure = error;
      } else {
        const timedOut = timeout.aborted;
        failure = new TranslationEngineError(
          engine,
          timedOut
            ? `no answer from ${request.url} within ${settings.timeoutMs} ms`
            : `cannot reach ${request.url}: ${(error as Error)?.message ?? String(error)}`,
          { cause: error, details: { timedOut } },
        );
      }
    }
    if (attempt > settings.retries) throw failure;
    const delayMs = waitMs ?? settings.retryDelayMs * 2 ** (attempt - 1);
    if (delayMs > settings.maxRetryDelayMs) {
      // Holding a worker slot for minutes helps no one: the job's retry and backoff take over.
      throw failure;
    }
    await sleep(delayMs, request.signal);
  }
}

/**
 * Translates the non-blank texts in chunks (at most `maxTexts` texts and about `maxChars`
 * characters each), one chunk at a time, and puts the answers back in place; blank texts are
 * answered as they are. Every answer is checked: one per text, and none empty.
 */
export async function inChunks(
  engine: string,
  texts: readonly string[],
  limits: { maxTexts: number; maxChars: number },
  translateChunk: (chunk: string[]) => Promise<unknown[]>,
): Promise<string[]> {
  const answers = [...texts];
  const indexes: number[] = [];
  for (let i = 0; i < texts.length; i++) if ((texts[i] as string).trim() !== "") indexes.push(i);
  let start = 0;
  while (start < indexes.length) {
    let end = start;
    let chars = 0;
    while (end < indexes.length && end - start < limits.maxTexts) {
      const length = (texts[indexes[end] as number] as string).length;
      if (end > start && chars + length > limits.maxChars) break;
      chars += length;
      end++;
    }
    const slice = indexes.slice(start, end);
    const chunk = slice.map((index) => texts[index] as string);
    const translated = await translateChunk(chunk);
    if (translated.length !== chunk.length) {
      throw new TranslationEngineError(
        engine,
        `sent ${chunk.length} texts, got ${translated.length} translations back`,
        { details: { sent: chunk.length, received: translated.length } },
      );
    }
    slice.forEach((index, k) => {
      const answer = translated[k];
      if (typeof answer !== "string" || answer.trim() === "") {
        throw new TranslationEngineError(
          engine,
          `answered ${typeof answer === "string" ? "an empty text" : `a ${typeof answer}`} for "${chunk[k]?.slice(0, 80)}"`,
          { details: { index } },
        );
      }
      answers[index] = answer;
    });
    start = end;
  }
  return answers;
}

/** Characters a list of texts sends, for character quotas. */
export const charactersOf = (texts: readonly string[]): number =>
  texts.reduce((sum, text) => sum + text.length, 0);
