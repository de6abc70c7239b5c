import {
  type Cache,
  type Conveyor,
  createConveyor,
  createScheduler,
  defineTask,
  normalizeSchedule,
  type QueueAdapter,
  type RateLimiter,
  type ScheduleDefinition,
  type Scheduler,
  type SchedulerOptions,
  type ScheduleStore,
  type ScheduleUpsert,
} from "@conveyor/core";
import { afterEach } from "vitest";
import { randomPrefix, type WaitForOptions, waitFor } from "../conformance.js";

/** What a schedule-suite factory is given for each test. */
export interface ScheduleConformanceContext {
  /**
   * A random prefix unique to this test. Adapters created with the same prefix in one test must
   * share one backend (they stand for two processes), adapters of different prefixes must not.
   */
  readonly prefix: string;
}

/**
 * Options of {@link runScheduleConformance}.
 *
 * @example
 * ```ts
 * import type { ScheduleConformanceOptions } from "@conveyor/testing";
 * import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
 *
 * const options: ScheduleConformanceOptions = {
 *   name: "memory",
 *   queue: ({ prefix }) => createMemoryQueue({ store: prefix }),
 *   cache: () => createMemoryCache(),
 *   rateLimiter: () => createMemoryRateLimiter(),
 * };
 * ```
 */
export interface ScheduleConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /** Creates a queue adapter that has a schedule store (`schedules`); see {@link ScheduleConformanceContext}. */
  queue: (context: ScheduleConformanceContext) => QueueAdapter | Promise<QueueAdapter>;
  /** Creates the cache of the platforms the scheduler tests run. */
  cache: (context: ScheduleConformanceContext) => Cache | Promise<Cache>;
  /** Creates the rate limiter of the platforms the scheduler tests run. */
  rateLimiter: (context: ScheduleConformanceContext) => RateLimiter | Promise<RateLimiter>;
  /** Multiplies every interval, lease and deadline of the suite. @defaultValue 1 */
  timeScale?: number;
}

/** The task every scheduler test schedules: it records each run's tick. */
export const TICK_TASK = "conformance.tick";

/** What every behaviour file of the schedule suite is given. */
export interface ScheduleSuite {
  readonly name: string;
  /** `n` ms times the suite's time scale. */
  ms(n: number): number;
  /** A fresh random prefix for one test. */
  prefix(): string;
  /** The schedule store of a fresh adapter of `prefix` (closed after the test). */
  store(prefix: string): Promise<ScheduleStore>;
  /** A platform over a fresh adapter of `prefix` with the tick task registered (closed after the test). */
  platform(prefix: string): Promise<Conveyor>;
  /** A scheduler on `conveyor` (closed after the test, before the platforms). */
  scheduler(conveyor: Conveyor, options?: SchedulerOptions): Scheduler;
  /** An upsert entry for the store, as the core would build it. */
  entry(definition: Partial<ScheduleDefinition> & { name: string }, nextRunAt: number): ScheduleUpsert;
  /** Polls `probe` until truthy, with a deadline scaled by the suite's time scale. */
  waitFor<T>(probe: () => T | Promise<T>, message?: string, timeoutMs?: number): Promise<NonNullable<T>>;
}

/** Builds the shared context of the schedule suite and registers the hook that closes what it opened. */
export function createScheduleSuite(options: ScheduleConformanceOptions, timeScale: number): ScheduleSuite {
  const closers: (() => Promise<void>)[] = [];
  const schedulers: Scheduler[] = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    for (const scheduler of schedulers.splice(0)) await scheduler.close().catch((e) => errors.push(e));
    for (const close of closers.splice(0).reverse()) await close().catch((e) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  });
  const ms = (n: number) => Math.round(n * timeScale);
  const tick = defineTask({ name: TICK_TASK, run: (input: unknown) => input });
  return {
    name: options.name,
    ms,
    prefix: randomPrefix,
    async store(prefix) {
      const queue = await options.queue({ prefix });
      closers.push(() => queue.close());
      if (queue.schedules === undefined) {
        throw new Error(`the "${queue.name}" queue adapter has no schedule store (queue.schedules).`);
      }
      return queue.schedules;
    },
    async platform(prefix) {
      const context = { prefix };
      const queue = await options.queue(context);
      const cache = await options.cache(context);
      const rateLimiter = await options.rateLimiter(context);
      const conveyor = await createConveyor({
        queue,
        cache,
        rateLimiter,
        tasks: [tick],
        logger: false,
        env: false,
        defaultQueue: `${prefix}-q`,
      });
      closers.push(async () => {
        await conveyor.close();
        await Promise.allSettled([queue.close(), cache.close(), rateLimiter.close()]);
      });
      return conveyor;
    },
    scheduler(conveyor, schedulerOptions = {}) {
      const scheduler = createScheduler(conveyor, { log: conveyor.log, ...schedulerOptions });
      schedulers.push(scheduler);
      return scheduler;
    },
    entry(definition, nextRunAt) {
      const { schedule, fingerprint } = normalizeSchedule({
        task: TICK_TASK,
        ...(definition.cron === undefined && definition.everyMs === undefined ? { everyMs: 1_000 } : {}),
        ...definition,
      } as ScheduleDefinition);
      return { schedule, fingerprint, nextRunAt, now: Date.now() };
    },
    waitFor(probe, message, timeoutMs = 5_000) {
      const settings: WaitForOptions = { timeoutMs: ms(timeoutMs), ...(message ? { message } : {}) };
      return waitFor(probe, settings);
    },
  };
}
