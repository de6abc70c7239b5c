import { SttEngineError } from "./errors.js";

/** Retry and timeout settings shared by the HTTP engines. */
export interface HttpEngineOptions {
  /** Longest wait for one HTTP request, in ms. @defaultValue 120000 */
  timeoutMs?: number;
  /** Extra attempts after a 429, a 5xx or a network error. @defaultValue 3 */
  retries?: number;
  /** First delay between attempts when the server sends no `Retry-After`, in ms (doubles each time). @defaultValue 500 */
  retryDelayMs?: number;
  /** The `fetch` to use (a proxy agent, a test double of the network). @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** `Retry-After` in ms: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Sends a request and returns the parsed JSON body of a 2xx answer. Retries 429, 5xx and network
 * errors (honouring `Retry-After`, capped at 60 s), fails at once on other statuses with the
 * server's message, and stops when `signal` aborts.
 */
export async function requestJson(
  engine: string,
  url: string,
  init: () => RequestInit,
  options: HttpEngineOptions & { signal: AbortSignal },
): Promise<unknown> {
  const retries = options.retries ?? 3;
  const doFetch = options.fetch ?? globalThis.fetch;
  let delayMs = options.retryDelayMs ?? 500;
  const where = url.replace(/([?&]key=)[^&]+/, "$1***");
  for (let attempt = 0; ; attempt++) {
    options.signal.throwIfAborted();
    let response: Response;
    try {
      response = await doFetch(url, {
        ...init(),
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 120_000)]),
      });
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      if (attempt >= retries) {
        throw new SttEngineError(
          engine,
          `no answer from ${where} (${(error as Error).message}). Check the URL and the network`,
          {
            retryable: true,
            cause: error,
          },
        );
      }
      await abortableSleep(delayMs, options.signal);
      delayMs *= 2;
      continue;
    }
    if (response.ok) {
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch (cause) {
        throw new SttEngineError(
          engine,
          `${where} answered with a body that is not JSON: ${text.slice(0, 200)}`,
          {
            retryable: false,
            cause,
          },
        );
      }
    }
    const body = await response.text().catch(() => "");
    const retryable = response.status === 429 || response.status >= 500;
    if (retryable && attempt < retries) {
      const wait = Math.min(60_000, retryAfterMs(response.headers.get("retry-after")) ?? delayMs);
      await abortableSleep(wait, options.signal);
      delayMs *= 2;
      continue;
    }
    let message = body.slice(0, 300);
    try {
      const parsed = JSON.parse(body) as { error?: { message?: string } | string };
      message = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? message);
    } catch {}
    const hint =
      response.status === 401 || response.status === 403
        ? "Check the API key"
        : retryable
          ? "The service is busy or failing; the job may be retried"
          : "Check the request options";
    throw new SttEngineError(engine, `HTTP ${response.status} from ${where}: ${message}. ${hint}`, {
      retryable,
      details: { status: response.status },
    });
  }
}

/** Seconds as Google's Duration JSON encodes them ("1.300s"), in ms. */
export function durationToMs(value: unknown): number | undefined {
  if (typeof value === "string" && /^-?\d+(\.\d+)?s$/.test(value))
    return Math.round(Number.parseFloat(value) * 1000);
  if (value && typeof value === "object") {
    const { seconds, nanos } = value as { seconds?: string | number; nanos?: number };
    return Math.round(Number(seconds ?? 0) * 1000 + (nanos ?? 0) / 1e6);
  }
  return undefined;
}
