import { randomUUID } from "node:crypto";
import fastq from "fastq";
import {
  type BenchSystem,
  Completion,
  cpuSince,
  type JobInput,
  type LatencyRun,
  noop,
  observeRuns,
  paced,
  type ThroughputRun,
} from "./system.js";

/**
 * What a minimal queue keeps per job. The reference allocates and updates one of these per job,
 * like a real store does, so the comparison measures Conveyor's overhead over a queue that does
 * the same bookkeeping, not over a bare function call.
 */
interface JobRecord {
  id: string;
  queue: string;
  task: string;
  input: JobInput;
  state: "waiting" | "active" | "completed";
  priority: number;
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  runAt: number;
  startedAt?: number;
  finishedAt?: number;
  result?: unknown;
  expiresAt?: number;
}

const RESULT_TTL_MS = 86_400_000;

async function work(record: JobRecord): Promise<unknown> {
  record.state = "active";
  record.attempt += 1;
  record.startedAt = Date.now();
  const value: unknown = noop(record.input);
  const result = value instanceof Promise ? await value : value;
  record.state = "completed";
  record.result = result;
  record.finishedAt = Date.now();
  record.expiresAt = record.finishedAt + RESULT_TTL_MS;
  return result;
}

function createRecord(input: JobInput, now: number, id: string): JobRecord {
  return {
    id,
    queue: "default",
    task: "bench.noop",
    input,
    state: "waiting",
    priority: 0,
    attempt: 0,
    maxAttempts: 1,
    createdAt: now,
    runAt: now,
  };
}

/** The reference: `fastq.promise` with the same no-op work and a job record per job. */
export const fastqSystem: BenchSystem = {
  name: "fastq",

  async throughput({ inputs, chunk, concurrency, observe }): Promise<ThroughputRun> {
    const store = new Map<string, JobRecord>();
    const queue = fastq.promise(work, concurrency);
    const total = inputs.length;
    const completion = new Completion(total, "fastq");
    const onDone = observe === "events" ? () => completion.add() : () => {};
    const onError = (error: Error) => completion.fail(error);
    if (observe === "task") observeRuns(() => completion.add());
    // Shaped like an adapter's `add`: one async call per chunk that stores and queues its jobs.
    const add = async (from: number, to: number) => {
      const now = Date.now();
      for (let i = from; i < to; i++) {
        const record = createRecord(inputs[i]!, now, randomUUID());
        store.set(record.id, record);
        queue.push(record).then(onDone, onError);
      }
    };

    try {
      // Enqueue with processing held back, then process the backlog: the same two phases as the
      // Conveyor side, whose worker starts after the last chunk was stored.
      queue.pause();
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (let from = 0; from < total; from += chunk) await add(from, Math.min(total, from + chunk));
      const enqueued = performance.now();
      queue.resume();
      await completion.done;
      const end = performance.now();
      if (store.size !== total) throw new Error(`fastq: stored ${store.size} jobs, expected ${total}`);
      return { enqueueMs: enqueued - start, processMs: end - enqueued, cpuUs: cpuSince(cpu) };
    } finally {
      observeRuns(undefined);
    }
  },

  async latency({ inputs, ids, concurrency, ratePerSecond, observe }): Promise<LatencyRun> {
    const store = new Map<string, JobRecord>();
    const queue = fastq.promise(work, concurrency);
    const total = inputs.length;
    const started = new Float64Array(total);
    const ended = new Float64Array(total);
    const completion = new Completion(total, "fastq");
    const fail = (error: Error) => completion.fail(error);
    if (observe === "task") {
      observeRuns((input) => {
        ended[input.i] = performance.now();
        completion.add();
      });
    }
    try {
      await paced(total, ratePerSecond, (index) => {
        started[index] = performance.now();
        const record = createRecord(inputs[index]!, Date.now(), ids[index]!);
        store.set(record.id, record);
        const done = queue.push(record);
        if (observe === "events") {
          done.then(() => {
            ended[index] = performance.now();
            completion.add();
          }, fail);
        } else {
          done.catch(fail);
        }
      });
      await completion.done;
      return { started, ended };
    } finally {
      observeRuns(undefined);
    }
  },
};
