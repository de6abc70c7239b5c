import { compareReady } from "@conveyor/core";
import { Heap } from "./heap.js";

/** The fields that order ready jobs, snapshotted when the job became ready. */
export interface Ranked {
  readonly priority: number;
  readonly runAt: number;
  readonly createdAt: number;
  /** Insertion order in the store: the last tie-break, so equal jobs run first-in first-out. */
  readonly seq: number;
}

/** The core's ready order, then insertion order. */
export function compareRanked(a: Ranked, b: Ranked): number {
  return compareReady(a, b) || a.seq - b.seq;
}

// Stale entries are dropped when they reach the front; compacting earlier only pays off once
// they are both numerous and the majority (e.g. after cancelling or purging many waiting jobs).
const COMPACT_MIN_STALE = 1024;

/**
 * One priority level. Jobs nearly always become ready in order (new jobs are stamped with the
 * current time), so they go to a FIFO array: O(1) in and out. A job that arrives out of order
 * (a promoted delayed job whose `runAt` is in the past) goes to a small heap, and the front of
 * the level is the better of the two fronts.
 */
class Level<T extends Ranked> {
  fifo: T[] = [];
  head = 0;
  readonly heap = new Heap<T>(compareRanked);

  push(entry: T): void {
    const tail = this.fifo.length > this.head ? this.fifo[this.fifo.length - 1] : undefined;
    if (tail === undefined || compareRanked(tail, entry) <= 0) this.fifo.push(entry);
    else this.heap.push(entry);
  }

  /** Which front is first: `fifo`, `heap`, or neither when the level is empty. */
  front(): "fifo" | "heap" | undefined {
    const a = this.fifo[this.head];
    const b = this.heap.peek();
    if (a === undefined) return b === undefined ? undefined : "heap";
    if (b === undefined) return "fifo";
    return compareRanked(a, b) <= 0 ? "fifo" : "heap";
  }

  shift(): T | undefined {
    const entry = this.fifo[this.head];
    this.fifo[this.head] = undefined as unknown as T;
    this.head++;
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  *entries(): Iterable<T> {
    for (let i = this.head; i < this.fifo.length; i++) yield this.fifo[i] as T;
    const rest: T[] = [];
    while (this.heap.size > 0) rest.push(this.heap.pop() as T);
    yield* rest;
  }
}

/**
 * The ready jobs of one queue in claim order: highest priority first, then earliest `runAt`,
 * then earliest `createdAt`, then insertion order. One {@link Level} per priority, with the
 * priorities kept sorted, so the common case (one priority, jobs in order) is O(1) per job.
 *
 * Entries are never removed from the middle: when a job stops being ready (cancelled, removed)
 * the store calls {@link markStale} and the entry is skipped when it reaches the front.
 */
export class ReadyQueue<T extends Ranked> {
  private readonly levels = new Map<number, Level<T>>();
  /** Priorities that have a level, ascending: the best is last. */
  private priorities: number[] = [];
  private stored = 0;
  private stale = 0;

  constructor(private readonly isLive: (entry: T) => boolean) {}

  /** Entries that are still live. */
  get size(): number {
    return this.stored - this.stale;
  }

  push(entry: T): void {
    let level = this.levels.get(entry.priority);
    if (level === undefined) {
      level = new Level<T>();
      this.levels.set(entry.priority, level);
      this.insertPriority(entry.priority);
    }
    level.push(entry);
    this.stored++;
  }

  /** The first live entry, without taking it. */
  peek(): T | undefined {
    const level = this.bestLevel();
    if (level === undefined) return undefined;
    const side = level.front();
    return side === "fifo" ? level.fifo[level.head] : level.heap.peek();
  }

  /** Takes the first live entry. */
  pop(): T | undefined {
    const level = this.bestLevel();
    if (level === undefined) return undefined;
    this.stored--;
    return level.front() === "fifo" ? level.shift() : level.heap.pop();
  }

  /** Records that one stored entry stopped being live. */
  markStale(): void {
    this.stale++;
    if (this.stale >= COMPACT_MIN_STALE && this.stale * 2 > this.stored) this.compact();
  }

  /** The level holding the first live entry, dropping dead fronts and empty levels on the way. */
  private bestLevel(): Level<T> | undefined {
    while (this.priorities.length > 0) {
      const priority = this.priorities[this.priorities.length - 1] as number;
      const level = this.levels.get(priority) as Level<T>;
      for (;;) {
        const side = level.front();
        if (side === undefined) break;
        const entry = side === "fifo" ? level.fifo[level.head] : level.heap.peek();
        if (this.isLive(entry as T)) return level;
        if (side === "fifo") level.shift();
        else level.heap.pop();
        this.stored--;
        this.stale--;
      }
      this.levels.delete(priority);
      this.priorities.pop();
    }
    return undefined;
  }

  private insertPriority(priority: number): void {
    const list = this.priorities;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((list[mid] as number) < priority) low = mid + 1;
      else high = mid;
    }
    list.splice(low, 0, priority);
  }

  private compact(): void {
    const live: T[] = [];
    for (const level of this.levels.values()) {
      for (const entry of level.entries()) if (this.isLive(entry)) live.push(entry);
    }
    live.sort(compareRanked);
    this.levels.clear();
    this.priorities = [];
    this.stored = 0;
    this.stale = 0;
    for (const entry of live) this.push(entry);
  }
}
