import { randomUUID } from "node:crypto";
import type { ResolvedBackends } from "./config.js";
import type { Cache } from "./contracts/cache.js";
import type { QueueAdapter } from "./contracts/queue.js";
import type { RateLimiter } from "./contracts/rate-limiter.js";
import { isConveyorError } from "./errors.js";
import { createFromUrl, loadAdapterModule, registeredSchemes } from "./registry.js";
import { splitCacheUrls } from "./tiered-cache.js";
import { maskUrl, maskUrlsIn, parseUrl, urlScheme } from "./url.js";

/** How a check, a backend or a whole report came out: `warn` works but deserves a look. */
export type DiagnosticStatus = "ok" | "warn" | "fail";

/** One thing checked about a backend. */
export interface DiagnosticCheck {
  /** Short name, e.g. `"reachable"`, `"version"`, `"persistence"`, `"maxmemory-policy"`, `"round trip"`. */
  name: string;
  status: DiagnosticStatus;
  /** What was found. */
  message: string;
  /** What to do about it, when the status is not `ok`. */
  fix?: string;
}

/** What an adapter's `diagnose` finds about its backend. */
export interface Diagnosis {
  /** The backend program and version, e.g. `"Redis 7.0.15"`, `"SQLite 3.46.1"`. */
  version?: string;
  checks: DiagnosticCheck[];
}

/** Which contract a backend URL serves. */
export type BackendKind = "queue" | "cache" | "rateLimiter";

/** What an adapter's `diagnose` is given. */
export interface DiagnoseContext {
  /** The URL as configured (may hold a password: mask it before printing). */
  url: string;
  /** The parsed URL. */
  parsed: URL;
  /** The contract the URL is configured for: the same Redis is judged differently as a queue and as a cache. */
  kind: BackendKind;
  /** Give up on the backend after this long. */
  timeoutMs: number;
}

/** The report on one configured backend (one tier of a tiered cache is one backend). */
export interface BackendReport {
  kind: BackendKind;
  /** Position in a tiered cache, 0 for the fastest. */
  tier?: number;
  /** The URL, password masked. */
  url: string;
  /** The package behind the URL's scheme. */
  adapter: string;
  /** The worst status of its checks. */
  status: DiagnosticStatus;
  version?: string;
  /** Milliseconds of the write/read round trip through the adapter. */
  roundTripMs?: number;
  checks: DiagnosticCheck[];
}

/** What {@link diagnoseBackends} finds: each backend, and the worst status of all. */
export interface DiagnosticReport {
  status: DiagnosticStatus;
  backends: BackendReport[];
}

/**
 * Options of {@link diagnoseBackends}.
 *
 * @example
 * ```ts
 * import type { DiagnoseOptions } from "@conveyor/core";
 * const options: DiagnoseOptions = { roots: [process.cwd()], timeoutMs: 3_000 };
 * ```
 */
export interface DiagnoseOptions {
  /** Folders to resolve adapter packages from. @defaultValue [process.cwd()] */
  roots?: string[];
  /** Longest wait for each step on each backend. @defaultValue 5_000 */
  timeoutMs?: number;
}

const ORDER: Record<DiagnosticStatus, number> = { ok: 0, warn: 1, fail: 2 };

/** The worst of some statuses (`ok` for none). */
export function worstStatus(statuses: Iterable<DiagnosticStatus>): DiagnosticStatus {
  let worst: DiagnosticStatus = "ok";
  for (const status of statuses) if (ORDER[status] > ORDER[worst]) worst = status;
  return worst;
}

const messageOf = (error: unknown) =>
  maskUrlsIn(error instanceof Error ? error.message : String(error)).replace(/^\[conveyor(:[a-z-]+)?\] /, "");

class StepTimeout extends Error {}

async function within<T>(timeoutMs: number, what: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const pending = run();
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StepTimeout(`${what} took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    // A late failure of an abandoned step must not surface as an unhandled rejection.
    pending.catch(() => {});
  }
}

const DOCTOR_QUEUE = "conveyor.doctor";
const HOUR_MS = 3_600_000;

/** Writes, reads and deletes one entry; returns a failure message or undefined. */
async function cacheRoundTrip(cache: Cache): Promise<string | undefined> {
  const key = `conveyor:doctor:${randomUUID()}`;
  const value = { doctor: true, at: Date.now() };
  await cache.set(key, value, { ttlMs: 60_000 });
  const read = await cache.get<typeof value>(key);
  await cache.delete(key);
  if (read?.at !== value.at) return `wrote an entry but read back ${JSON.stringify(read)}`;
  return undefined;
}

/** Adds a job far in the future to a queue no worker serves, reads it back and removes it. */
async function queueRoundTrip(queue: QueueAdapter): Promise<string | undefined> {
  const now = Date.now();
  const id = `conveyor-doctor-${randomUUID()}`;
  await queue.add([
    {
      id,
      queue: DOCTOR_QUEUE,
      task: "conveyor.doctor",
      input: { doctor: true },
      priority: 0,
      // Delayed, so even a worker on this queue would not claim it before it is removed.
      runAt: queue.capabilities.delayed ? now + HOUR_MS : now,
      maxAttempts: 1,
      createdAt: now,
    },
  ]);
  const read = await queue.getJob(id);
  const removed = await queue.remove(id);
  if (read?.id !== id) return "added a job but could not read it back";
  if (!removed) return "added a job but could not remove it";
  return undefined;
}

/** Consumes from a fresh key and resets it. */
async function limiterRoundTrip(limiter: RateLimiter): Promise<string | undefined> {
  const key = `conveyor:doctor:${randomUUID()}`;
  const limit = { points: 2, durationMs: 60_000 };
  const first = await limiter.consume(key, limit);
  const peek = await limiter.peek(key, limit);
  await limiter.reset(key);
  if (!first.allowed || peek.consumed !== 1) {
    return `consumed 1 point of 2 but the limiter answered allowed=${first.allowed}, consumed=${peek.consumed}`;
  }
  return undefined;
}

async function roundTrip(kind: BackendKind, url: string, roots: string[], timeoutMs: number) {
  const started = performance.now();
  let backend: { close(): Promise<void> } | undefined;
  try {
    backend = await within(timeoutMs, "opening the backend", () =>
      createFromUrl(kind as "cache", url, roots),
    );
    const opened = backend;
    const failure = await within(timeoutMs, "the round trip", () =>
      kind === "queue"
        ? queueRoundTrip(opened as unknown as QueueAdapter)
        : kind === "cache"
          ? cacheRoundTrip(opened as Cache)
          : limiterRoundTrip(opened as unknown as RateLimiter),
    );
    const roundTripMs = Math.round((performance.now() - started) * 10) / 10;
    const what = {
      queue: "add, read, remove a job",
      cache: "set, get, delete",
      rateLimiter: "consume, peek, reset",
    }[kind];
    if (failure) {
      return {
        check: {
          name: "round trip",
          status: "fail",
          message: failure,
          fix: "The backend answers but does not keep what it is given; check its configuration.",
        } satisfies DiagnosticCheck,
      };
    }
    return {
      roundTripMs,
      check: {
        name: "round trip",
        status: "ok",
        message: `${what}: ${roundTripMs} ms`,
      } satisfies DiagnosticCheck,
    };
  } catch (error) {
    return {
      check: {
        name: "round trip",
        status: "fail",
        message: messageOf(error),
        fix: "Start the backend or fix the URL; the other checks above say more.",
      } satisfies DiagnosticCheck,
    };
  } finally {
    await backend?.close().catch(() => {});
  }
}

async function diagnoseOne(
  kind: BackendKind,
  url: string,
  tier: number | undefined,
  roots: string[],
  timeoutMs: number,
): Promise<BackendReport> {
  const masked = maskUrl(url);
  let scheme: string;
  let parsed: URL;
  try {
    scheme = urlScheme(url);
    parsed = parseUrl(url);
  } catch (error) {
    return {
      kind,
      ...(tier === undefined ? {} : { tier }),
      url: masked,
      adapter: "?",
      status: "fail",
      checks: [{ name: "url", status: "fail", message: messageOf(error), fix: "Fix the URL." }],
    };
  }
  const adapter = registeredSchemes().find((s) => s.scheme === scheme)?.packageName ?? scheme;
  const base = { kind, ...(tier === undefined ? {} : { tier }), url: masked, adapter };
  const checks: DiagnosticCheck[] = [];
  let version: string | undefined;
  try {
    const mod = await loadAdapterModule(scheme, roots);
    if (mod.diagnose) {
      const found = await within(timeoutMs + 1_000, "the diagnosis", async () =>
        mod.diagnose!({ url, parsed, kind, timeoutMs }),
      );
      version = found.version;
      checks.push(...found.checks);
    }
  } catch (error) {
    const notInstalled = isConveyorError(error) && error.code === "ADAPTER_NOT_INSTALLED";
    checks.push({
      name: notInstalled ? "installed" : "diagnosis",
      status: "fail",
      message: messageOf(error),
      ...(notInstalled ? { fix: `npm install ${adapter}` } : {}),
    });
    return { ...base, status: "fail", checks };
  }
  // A backend already known to be unreachable gets no round trip: it would only wait out the timeout.
  const unreachable = checks.some((c) => c.name === "reachable" && c.status === "fail");
  let roundTripMs: number | undefined;
  if (!unreachable) {
    const trip = await roundTrip(kind, url, roots, timeoutMs);
    checks.push(trip.check);
    roundTripMs = trip.roundTripMs;
  }
  return {
    ...base,
    status: worstStatus(checks.map((c) => c.status)),
    ...(version ? { version } : {}),
    ...(roundTripMs !== undefined ? { roundTripMs } : {}),
    checks,
  };
}

/**
 * Checks every configured backend: the adapter is installed, its own diagnosis (reachable,
 * version, persistence, eviction policy… from the adapter's `diagnose`), then a write/read round
 * trip through the adapter with its latency. The round trip writes only its own keys (a job in
 * the `conveyor.doctor` queue, delayed and removed at once; a cache entry and a rate-limit key
 * under `conveyor:doctor:`) and deletes them. Backends given as instances are not checked.
 *
 * @example
 * ```ts
 * import { diagnoseBackends, resolveBackends } from "@conveyor/core";
 *
 * const report = await diagnoseBackends(resolveBackends({ url: "memory://" }));
 * for (const backend of report.backends) console.log(backend.kind, backend.url, backend.status);
 * ```
 */
export async function diagnoseBackends(
  backends: ResolvedBackends,
  options: DiagnoseOptions = {},
): Promise<DiagnosticReport> {
  const roots = options.roots ?? [process.cwd()];
  const timeoutMs = options.timeoutMs ?? 5_000;
  const jobs: Promise<BackendReport>[] = [];
  const add = (kind: BackendKind, value: string | { name: string }) => {
    if (typeof value !== "string") {
      jobs.push(
        Promise.resolve({
          kind,
          url: `${value.name} (instance)`,
          adapter: value.name,
          status: "ok",
          checks: [
            { name: "configured", status: "ok", message: "given as an instance in code; not checked" },
          ],
        }),
      );
      return;
    }
    const urls = kind === "cache" ? splitCacheUrls(value) : [value];
    urls.forEach((url, index) => {
      jobs.push(diagnoseOne(kind, url, urls.length > 1 ? index : undefined, roots, timeoutMs));
    });
  };
  add("queue", backends.queue);
  add("cache", backends.cache);
  add("rateLimiter", backends.rateLimiter);
  const reports = await Promise.all(jobs);
  return { status: worstStatus(reports.map((r) => r.status)), backends: reports };
}
