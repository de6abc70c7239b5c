import {
  type ActiveJob,
  type Consumer,
  checkProgress,
  decideAfterError,
  type JobHandler,
  type JobRecord,
  type Outcome,
  type Progress,
  serializeError,
  settleOutcome,
  ValidationError,
  WorkerClosingError,
} from "@conveyor/core";
import { copyValue } from "./copy.js";
import {
  abortHeld,
  type Held,
  onAbortHeld,
  type QueueState,
  type QueueStore,
  signalOf,
  type Wakeable,
} from "./queue-store.js";
import { snapshotRecord } from "./record.js";

/**
 * The outcome to persist, with a copy of what it stores, so the handler can keep mutating its
 * result. A result that cannot be copied becomes the core's decision after an error.
 */
function settleCopied(record: JobRecord, value: unknown, rejected: boolean): Outcome {
  const outcome = settleOutcome(record, value, rejected, "memory");
  try {
    return copyValue(outcome);
  } catch (error) {
    const problem = new ValidationError(
      "the job result",
      [{ path: "", message: `cannot be stored (${String(error)})` }],
      {
        scope: "memory",
        cause: error,
      },
    );
    return decideAfterError(record, serializeError(problem, record.attempt), Date.now());
  }
}

/** What a handler is given; a class so the lazy `signal` getter lives on one shared prototype. */
class ClaimedJob implements ActiveJob {
  constructor(
    readonly record: JobRecord,
    private readonly held: Held,
    private readonly store: QueueStore,
  ) {}

  get signal(): AbortSignal {
    return signalOf(this.held);
  }

  onAbort(listener: (reason: unknown) => void): void {
    onAbortHeld(this.held, listener);
  }

  // An arrow property, so a handler may pass `job.progress` around unbound.
  readonly progress = (progress: Progress): Promise<void> => {
    try {
      this.store.progress(this.held, checkProgress(progress, "memory"));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/**
 * A push-based consumption loop over a {@link QueueStore}. The store wakes it (on a microtask)
 * when one of its queues gets a ready job; a finished handler makes room and claims at once.
 * There is no polling, and at most `concurrency` claims are held at any time.
 */
export class MemoryConsumer implements Consumer, Wakeable {
  private readonly held = new Set<Held>();
  private scheduled = false;
  private closing = false;
  private drained: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;

  constructor(
    private readonly store: QueueStore,
    private readonly queues: readonly QueueState[],
    private readonly concurrency: number,
    private readonly workerId: string,
    private readonly handler: JobHandler,
    private readonly onError: (error: unknown) => void,
    private readonly onClosed: (consumer: MemoryConsumer) => void,
  ) {
    store.addConsumer(this, queues);
    this.wake();
  }

  get active(): number {
    return this.held.size;
  }

  get closed(): boolean {
    return this.closing;
  }

  wake(): void {
    if (this.closing || this.scheduled || this.held.size >= this.concurrency) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  close(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.store.removeConsumer(this, this.queues);
      this.onClosed(this);
    }
    // A second close without draining cuts short a drain that is still waiting.
    if (options.drain === false) this.releaseAll();
    if (this.held.size === 0) {
      this.resolveDrained?.();
      return Promise.resolve();
    }
    this.drained ??= new Promise<void>((resolve) => {
      this.resolveDrained = resolve;
    });
    return this.drained;
  }

  private pump(): void {
    while (!this.closing && this.held.size < this.concurrency) {
      const held = this.store.claim(this.queues, this.workerId);
      if (held === undefined) return;
      this.held.add(held);
      this.run(held);
    }
  }

  private run(held: Held): void {
    const job = new ClaimedJob(snapshotRecord(held.slot.record), held, this.store);
    let result: Promise<Outcome>;
    try {
      result = Promise.resolve(this.handler(job));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (outcome) => this.settle(held, outcome, false),
      (error: unknown) => this.settle(held, error, true),
    );
  }

  private settle(held: Held, value: unknown, rejected: boolean): void {
    // Released by close({ drain: false }): the job already went back to waiting.
    if (!this.held.delete(held)) return;
    try {
      if (!held.done) this.store.finish(held, settleCopied(held.slot.record, value, rejected));
    } catch (error) {
      this.onError(error);
    }
    if (!this.closing) this.pump();
    else if (this.held.size === 0) this.resolveDrained?.();
  }

  /** Hands every held job back to the store and aborts its handler. */
  private releaseAll(): void {
    const held = [...this.held];
    this.held.clear();
    for (const claim of held) {
      // Released before the abort, so whatever the handler does on abort finds the claim over.
      this.store.release(claim);
      abortHeld(claim, new WorkerClosingError());
    }
  }
}
