import {
  type EnqueueOptions,
  JOB_STATES,
  type JobRecord,
  type JobState,
  ValidationError,
  type ValidationIssue,
} from "@conveyor/core";

/** One submission as sent to `POST /v1/tasks/{name}` (and each item of a bulk submit). */
export interface SubmitBody {
  /** The task input, validated against the task's schema. @defaultValue `{}` */
  input?: unknown;
  /** Job id; submitting an existing id returns that job (dedupe, like an idempotency key). */
  jobId?: string;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** Run no earlier than this time: epoch ms or an ISO 8601 date. */
  runAt?: number | string;
  /** Higher runs first. */
  priority?: number;
  /** Queue to use instead of the task's. */
  queue?: string;
  /** Extra attempts after a failure. */
  retries?: number;
  /** Hard limit of one attempt in ms. */
  timeoutMs?: number;
  /** Free-form string metadata stored with the job. */
  meta?: Record<string, string>;
}

const SUBMIT_KEYS = new Set([
  "input",
  "jobId",
  "delayMs",
  "runAt",
  "priority",
  "queue",
  "retries",
  "timeoutMs",
  "meta",
]);
const MAX_ID_LENGTH = 256;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Checks one submission; pushes problems to `issues` (paths under `prefix`). */
function parseSubmission(
  value: unknown,
  prefix: string,
  issues: ValidationIssue[],
): { input: unknown; options: EnqueueOptions } | undefined {
  const at = (key: string) => (prefix ? `${prefix}.${key}` : key);
  if (value === undefined) return { input: {}, options: {} };
  if (!isObject(value)) {
    issues.push({
      path: prefix,
      message: 'must be a JSON object like { "input": { … } } (the task input goes under "input")',
    });
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(value)) {
    if (!SUBMIT_KEYS.has(key))
      issues.push({
        path: at(key),
        message: `unknown field; allowed: ${[...SUBMIT_KEYS].join(", ")} (the task input goes under "input")`,
      });
  }
  const options: EnqueueOptions = {};
  const { jobId, delayMs, runAt, priority, queue, retries, timeoutMs, meta } = value;
  if (jobId !== undefined) {
    if (typeof jobId !== "string" || jobId.length === 0 || jobId.length > MAX_ID_LENGTH)
      issues.push({ path: at("jobId"), message: `must be a string of 1 to ${MAX_ID_LENGTH} characters` });
    else options.jobId = jobId;
  }
  if (delayMs !== undefined) {
    if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0)
      issues.push({ path: at("delayMs"), message: "must be a number of milliseconds, 0 or more" });
    else options.delayMs = delayMs;
  }
  if (runAt !== undefined) {
    const time =
      typeof runAt === "number" ? runAt : typeof runAt === "string" ? Date.parse(runAt) : Number.NaN;
    if (!Number.isFinite(time))
      issues.push({ path: at("runAt"), message: "must be epoch milliseconds or an ISO 8601 date" });
    else options.runAt = time;
  }
  if (priority !== undefined) {
    if (!Number.isSafeInteger(priority))
      issues.push({ path: at("priority"), message: "must be a whole number" });
    else options.priority = priority as number;
  }
  if (queue !== undefined) {
    if (typeof queue !== "string" || queue.length === 0 || queue.length > MAX_ID_LENGTH)
      issues.push({ path: at("queue"), message: `must be a string of 1 to ${MAX_ID_LENGTH} characters` });
    else options.queue = queue;
  }
  if (retries !== undefined) {
    if (!Number.isSafeInteger(retries) || (retries as number) < 0)
      issues.push({ path: at("retries"), message: "must be a whole number, 0 or more" });
    else options.retries = retries as number;
  }
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
      issues.push({ path: at("timeoutMs"), message: "must be a number of milliseconds above 0" });
    else options.timeoutMs = timeoutMs;
  }
  if (meta !== undefined) {
    if (!isObject(meta) || Object.values(meta).some((v) => typeof v !== "string"))
      issues.push({ path: at("meta"), message: "must be an object of string values" });
    else options.meta = { ...(meta as Record<string, string>) };
  }
  if (issues.length > before) return undefined;
  return { input: value.input === undefined ? {} : value.input, options };
}

/** Reads the body of a single submission; throws `ValidationError` listing every problem. */
export function parseSubmit(body: unknown): { input: unknown; options: EnqueueOptions } {
  const issues: ValidationIssue[] = [];
  const parsed = parseSubmission(body, "", issues);
  if (!parsed) throw new ValidationError("the request body", issues);
  return parsed;
}

/** Reads the body of a bulk submission, `{ "items": [ … ] }`; throws `ValidationError` listing every problem. */
export function parseBulk(body: unknown, maxItems: number): { input: unknown; options: EnqueueOptions }[] {
  const items = isObject(body) ? body.items : undefined;
  if (!isObject(body) || !Array.isArray(items)) {
    throw new ValidationError("the request body", [
      { path: "items", message: 'must be an array: { "items": [{ "input": { … } }, …] }' },
    ]);
  }
  const extra = Object.keys(body).filter((key) => key !== "items");
  if (extra.length > 0)
    throw new ValidationError(
      "the request body",
      extra.map((key) => ({ path: key, message: 'unknown field; only "items" is allowed' })),
    );
  if (items.length === 0 || items.length > maxItems) {
    throw new ValidationError("the request body", [
      { path: "items", message: `must hold 1 to ${maxItems} items, got ${items.length}` },
    ]);
  }
  const issues: ValidationIssue[] = [];
  const parsed = items.map((item, index) => parseSubmission(item, `items.${index}`, issues));
  if (issues.length > 0) throw new ValidationError("the request body", issues);
  return parsed as { input: unknown; options: EnqueueOptions }[];
}

/** Reads a whole-number query parameter within bounds; throws `ValidationError`. */
export function intParam(
  query: URLSearchParams,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new ValidationError(`the query parameter "${name}"`, [
      {
        path: name,
        message: `must be a whole number from ${bounds.min} to ${bounds.max}, got "${raw.slice(0, 40)}"`,
      },
    ]);
  }
  return value;
}

/** Reads a comma list of job states; throws `ValidationError` for an unknown state. */
export function statesParam(raw: string | null | undefined, what: string): JobState[] | undefined {
  if (raw === null || raw === undefined) return undefined;
  const states = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = states.filter((s) => !JOB_STATES.includes(s as JobState));
  if (unknown.length > 0 || states.length === 0) {
    throw new ValidationError(what, [
      {
        path: "state",
        message: `must be a comma list of ${JOB_STATES.join(", ")}; got "${raw.slice(0, 80)}"`,
      },
    ]);
  }
  return states as JobState[];
}

/** Reads the optional body of a purge: `{ states?: JobState[], olderThanMs?: number }`. */
export function parsePurge(body: unknown): { states?: JobState[]; olderThanMs?: number } {
  if (body === undefined) return {};
  const issues: ValidationIssue[] = [];
  if (!isObject(body))
    throw new ValidationError("the request body", [{ path: "", message: "must be a JSON object" }]);
  for (const key of Object.keys(body))
    if (key !== "states" && key !== "olderThanMs")
      issues.push({ path: key, message: "unknown field; allowed: states, olderThanMs" });
  const result: { states?: JobState[]; olderThanMs?: number } = {};
  if (body.states !== undefined) {
    if (!Array.isArray(body.states) || body.states.some((s) => !JOB_STATES.includes(s as JobState)))
      issues.push({ path: "states", message: `must be an array of ${JOB_STATES.join(", ")}` });
    else result.states = body.states as JobState[];
  }
  if (body.olderThanMs !== undefined) {
    const age = body.olderThanMs;
    if (typeof age !== "number" || !Number.isFinite(age) || age < 0)
      issues.push({ path: "olderThanMs", message: "must be a number of milliseconds, 0 or more" });
    else result.olderThanMs = age;
  }
  if (issues.length > 0) throw new ValidationError("the request body", issues);
  return result;
}

/** Links of a job, relative to the server root. */
export function jobLinks(base: string, id: string) {
  const self = `${base}/v1/jobs/${encodeURIComponent(id)}`;
  return { self, events: `${self}/events`, retry: `${self}/retry`, cancel: `${self}/cancel` };
}

/** A job as the API returns it: every stored field (times in epoch ms) and its links. */
export function jobDocument(record: JobRecord, base: string) {
  return { ...record, links: jobLinks(base, record.id) };
}
