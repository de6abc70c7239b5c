/** What every queue of the Redis benchmark implements (see redis.ts), and helpers they share. */
import { startRedisServer } from "@conveyor/testing";
import { Redis } from "ioredis";
import { collectGarbage } from "./stats.js";

/** The input of every job: its index, which latency runs use to match timestamps. */
export interface RedisJobInput {
  i: number;
}

/** Where the one redis-server of the run is, and a fresh name for each round's keys. */
export interface RedisRound {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  /** Unique per round and system: a queue name, a key prefix. */
  name: string;
}

/** Timings of one throughput round, in ms. */
export interface RedisThroughputRun {
  /** Bulk add of every job, in chunks, with no worker running. */
  addMs: number;
  /** From starting the worker until every job's completion is stored in Redis. */
  processMs: number;
  /** CPU time of this process (user + system) while processing, in µs. */
  processCpuUs: number;
}

/** Per job: when its add was called and when its completion was seen (`performance.now()`). */
export interface RedisLatencyRun {
  started: Float64Array;
  ended: Float64Array;
}

/** A queue on Redis under test. */
export interface RedisBenchSystem {
  /** Shown in the tables. */
  readonly label: string;
  throughput(
    round: RedisRound,
    options: { inputs: readonly RedisJobInput[]; chunk: number; concurrency: number },
  ): Promise<RedisThroughputRun>;
  latency(
    round: RedisRound,
    options: { inputs: readonly RedisJobInput[]; concurrency: number; ratePerSecond: number },
  ): Promise<RedisLatencyRun>;
}

/**
 * Counts jobs as the handler runs them and settles once `total` ran and `persisted()` confirms
 * Redis stored every completion: the same end point for every system, whatever events it has.
 * Fails on a stall instead of hanging the run.
 */
export class Runs {
  count = 0;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  readonly done: Promise<void>;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly persisted: () => Promise<boolean>,
    stallMs = 30_000,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    let last = -1;
    const timer = setInterval(() => {
      if (this.count === last) this.fail(new Error(`${label}: stalled at ${this.count} of ${total} runs`));
      last = this.count;
    }, stallMs);
    timer.unref();
    this.done.then(
      () => clearInterval(timer),
      () => clearInterval(timer),
    );
  }

  /** One job ran. */
  ran(): void {
    if (++this.count === this.total) void this.confirm();
  }

  fail(error: Error): void {
    this.reject(error);
  }

  private async confirm(): Promise<void> {
    // The last outcomes are written a round trip after the last run; look every millisecond.
    const deadline = Date.now() + 30_000;
    try {
      while (!(await this.persisted())) {
        if (Date.now() > deadline) throw new Error(`${this.label}: completions not stored within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      this.resolve();
    } catch (error) {
      this.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** Matches completions to start times and settles when all `total` were seen. */
export class Seen {
  private count = 0;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  readonly ended: Float64Array;
  readonly done: Promise<void>;

  constructor(
    private readonly total: number,
    label: string,
    stallMs = 30_000,
  ) {
    this.ended = new Float64Array(total);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    let last = -1;
    const timer = setInterval(() => {
      if (this.count === last)
        this.fail(new Error(`${label}: stalled at ${this.count} of ${total} completions`));
      last = this.count;
    }, stallMs);
    timer.unref();
    this.done.then(
      () => clearInterval(timer),
      () => clearInterval(timer),
    );
  }

  /** Job `i` completed now. */
  completed(i: number, at = performance.now()): void {
    if (this.ended[i] !== 0) return;
    this.ended[i] = at;
    if (++this.count === this.total) this.resolve();
  }

  private readonly indexOf = new Map<string, number>();
  private readonly early = new Map<string, number>();

  /** The add call of job `i` answered with its id. */
  added(id: string, i: number): void {
    const at = this.early.get(id);
    if (at === undefined) this.indexOf.set(id, i);
    else this.completed(i, at);
  }

  /** An event says job `id` completed now (possibly before its add call was answered here). */
  completedId(id: string): void {
    const i = this.indexOf.get(id);
    if (i === undefined) this.early.set(id, performance.now());
    else this.completed(i);
  }

  fail(error: Error): void {
    this.reject(error);
  }
}

/** A plain ioredis client for the round's own calls (not one of the system's connections). */
export function adminClient(round: RedisRound): Redis {
  return new Redis({ host: round.host, port: round.port, lazyConnect: false, maxRetriesPerRequest: 3 });
}

/** The one ephemeral redis-server of a benchmark run, with what every measurement needs of it. */
export interface BenchRedis {
  /** A client for INFO and FLUSHALL on it. */
  readonly admin: Redis;
  /** `redis_version` from INFO server. */
  readonly version: string;
  /** A fresh round on the server, its keys under a name no other round used. */
  round(key: string): RedisRound;
  /** Empties the server (our own: each measurement starts empty, so none pays for another's keys) and collects garbage. */
  reset(): Promise<void>;
  /** Disconnects and stops the server. */
  stop(): Promise<void>;
}

/** Starts the run's redis-server (see {@link BenchRedis}). */
export async function startBenchRedis(): Promise<BenchRedis> {
  const redis = await startRedisServer();
  const admin = adminClient({ url: redis.url, host: redis.host, port: redis.port, name: "" });
  const version = /redis_version:(\S+)/.exec(await admin.info("server"))?.[1] ?? "?";
  let serial = 0;
  return {
    admin,
    version,
    round: (key) => ({
      url: redis.url,
      host: redis.host,
      port: redis.port,
      name: `bench-${key}-${++serial}`,
    }),
    async reset() {
      await admin.flushall();
      await collectGarbage();
    },
    async stop() {
      admin.disconnect();
      await redis.stop();
    },
  };
}
