import { randomUUID } from "node:crypto";
import {
  type Cache,
  type Conveyor,
  type ConveyorConfig,
  createConveyor,
  defineTask,
  isConveyorError,
  type JobRecord,
  type NewJob,
  type QueueAdapter,
  type QueueCapabilities,
  type RateLimiter,
  type Worker,
  type WorkerOptions,
} from "@conveyor/core";
import { afterEach, beforeEach, expect } from "vitest";
import {
  type Deferred,
  deferred,
  type QueueConformanceOptions,
  randomPrefix,
  waitFor,
} from "../conformance.js";

/** The part of the platform config a queue test may choose; backends come from the suite. */
export type PlatformConfig = Pick<ConveyorConfig, "tasks" | "plugins" | "resultTtlMs" | "failedTtlMs">;

/** Everything one queue test works with; created fresh before each test and closed after it. */
export interface QueueKit {
  /** This test's random prefix. */
  readonly prefix: string;
  /** The test's queue adapter (the contract under test). */
  readonly queue: QueueAdapter;
  /** The test's cache. */
  readonly cache: Cache;
  /** The test's rate limiter. */
  readonly rateLimiter: RateLimiter;
  /** A queue name unique to this test: `<prefix>-<label>`. */
  queueName(label?: string): string;
  /** A job id unique to this test. */
  jobId(label?: string): string;
  /** `n` ms times the suite's time scale. */
  ms(n: number): number;
  /**
   * A platform over the test's backends (default queue `queueName()`); closed after the test.
   * `hide` lists capabilities the platform must see as missing (a view over the same adapter),
   * so the core's refusals are tested on every adapter, not only on those that lack them.
   */
  platform(config?: PlatformConfig, hide?: readonly (keyof QueueCapabilities)[]): Promise<Conveyor>;
  /** Starts a worker on `conveyor` (the last platform by default); closed without draining after the test. */
  worker(options?: WorkerOptions, conveyor?: Conveyor): Worker;
  /** A promise the test settles to hold handlers; resolved after the test if still pending. */
  gate<T = void>(): Deferred<T>;
  /** A job for {@link QueueAdapter.add}, ready at once on the default queue unless overridden. */
  newJob(overrides?: Partial<NewJob>): NewJob;
  /** Waits until the job is in one of `states` and returns it. */
  until(id: string, ...states: JobRecord["state"][]): Promise<JobRecord>;
  /** Polls `probe` until truthy, with a deadline scaled by the suite's time scale. */
  waitFor<T>(probe: () => T | Promise<T>, message?: string, timeoutMs?: number): Promise<NonNullable<T>>;
}

/** What every behaviour file of the queue suite is given. */
export interface QueueSuite {
  /** The adapter's name as given to the suite. */
  readonly name: string;
  /** The adapter's declared capabilities (tests that need a missing one are skipped). */
  readonly capabilities: QueueCapabilities;
  /** Registers before/after hooks in the current `describe` and returns the current test's kit. */
  useKit(): () => QueueKit;
}

/** Builds the shared context the behaviour files register their tests with. */
export function createQueueSuite(
  options: QueueConformanceOptions,
  capabilities: QueueCapabilities,
  timeScale: number,
): QueueSuite {
  return {
    name: options.name,
    capabilities,
    useKit() {
      let current: { kit: QueueKit; teardown(): Promise<void> } | undefined;
      beforeEach(async () => {
        current = await createKit(options, timeScale);
      });
      afterEach(async () => {
        const held = current;
        current = undefined;
        await held?.teardown();
      });
      return () => {
        if (!current) throw new Error("the queue kit is only available inside a test");
        return current.kit;
      };
    },
  };
}

async function createKit(
  options: QueueConformanceOptions,
  timeScale: number,
): Promise<{ kit: QueueKit; teardown(): Promise<void> }> {
  const prefix = randomPrefix();
  const context = { prefix };
  const closers: (() => Promise<void>)[] = [];
  const gates: Deferred<unknown>[] = [];
  const workers: Worker[] = [];
  const platforms: Conveyor[] = [];

  const teardown = async () => {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    // Held handlers are let go first, then workers stop at once (a test may leave a job running),
    // then the platforms and finally the backends, newest first.
    for (const gate of gates) if (!gate.settled) gate.resolve(undefined);
    await Promise.all(workers.map((worker) => attempt(() => worker.close({ drain: false }))));
    await Promise.all(platforms.map((conveyor) => attempt(() => conveyor.close())));
    for (const close of closers.reverse()) await attempt(close);
    if (errors.length > 0) throw errors[0];
  };

  let queue: QueueAdapter;
  let cache: Cache;
  let rateLimiter: RateLimiter;
  try {
    queue = await options.queue(context);
    closers.push(() => queue.close());
    cache = await options.cache(context);
    closers.push(() => cache.close());
    rateLimiter = await options.rateLimiter(context);
    closers.push(() => rateLimiter.close());
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error;
  }

  const ms = (n: number) => Math.round(n * timeScale);
  const queueName = (label = "default") => `${prefix}-${label}`;

  const kit: QueueKit = {
    prefix,
    queue,
    cache,
    rateLimiter,
    queueName,
    jobId: (label = randomUUID()) => `${prefix}-job-${label}`,
    ms,
    async platform(config = {}, hide = []) {
      const conveyor = await createConveyor({
        ...config,
        queue: hide.length > 0 ? withoutCapabilities(queue, hide) : queue,
        cache,
        rateLimiter,
        defaultQueue: queueName(),
        logger: false,
        env: false,
      });
      platforms.push(conveyor);
      return conveyor;
    },
    worker(workerOptions = {}, conveyor = platforms.at(-1)) {
      if (!conveyor) throw new Error("create a platform with kit.platform() before starting a worker");
      const worker = conveyor.worker(workerOptions);
      workers.push(worker);
      return worker;
    },
    gate<T>() {
      const gate = deferred<T>();
      gates.push(gate as Deferred<unknown>);
      return gate;
    },
    newJob(overrides = {}) {
      const now = Date.now();
      return {
        id: kit.jobId(),
        queue: queueName(),
        task: "conformance.echo",
        input: {},
        priority: 0,
        runAt: now,
        maxAttempts: 1,
        createdAt: now,
        ...overrides,
      };
    },
    async until(id, ...states) {
      return waitFor(
        async () => {
          const record = await queue.getJob(id);
          return record && states.includes(record.state) ? record : undefined;
        },
        { timeoutMs: ms(5_000), message: `job ${id} to be ${states.join(" or ")}` },
      );
    },
    waitFor(probe, message, timeoutMs = 5_000) {
      return waitFor(probe, { timeoutMs: ms(timeoutMs), ...(message ? { message } : {}) });
    },
  };
  return { kit, teardown };
}

/**
 * Asserts that `error` is a Conveyor error named `name` (checked by brand and name, so it holds
 * across ESM and CJS copies of the core) and returns it.
 */
export function expectConveyorError<E = Error & { code: string; details: Record<string, unknown> }>(
  error: unknown,
  name: string,
): E {
  expect(isConveyorError(error), `expected a Conveyor error named ${name}, got ${String(error)}`).toBe(true);
  expect((error as Error).name).toBe(name);
  return error as E;
}

/** Runs `action` and returns what it threw; fails the test when it did not throw. */
export async function caught(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, but it returned");
}

/** A view of `adapter` that declares the `hidden` capabilities missing; everything else forwards. */
function withoutCapabilities(
  adapter: QueueAdapter,
  hidden: readonly (keyof QueueCapabilities)[],
): QueueAdapter {
  const capabilities = { ...adapter.capabilities };
  for (const name of hidden) capabilities[name] = false;
  return new Proxy(adapter, {
    get(target, property) {
      if (property === "capabilities") return capabilities;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A task whose input picks what the job does: `"ok"` completes, `"fail"` throws, `"hold"` stays
 * active until `hold` resolves — for tests that need jobs in several states at once.
 */
export function mixedTask(hold: Deferred<void>) {
  return defineTask({
    name: "conformance.mixed",
    run: async (input: { mode: "hold" | "ok" | "fail" }) => {
      if (input.mode === "hold") await hold.promise;
      if (input.mode === "fail") throw new Error("asked to fail");
      return input.mode;
    },
  });
}
