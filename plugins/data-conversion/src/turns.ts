/** The last turn taken on each key: a promise that settles when that turn is released. */
const lastTurns = new WeakMap<object, Promise<void>>();
/** Turns taken and not yet released, per key. */
const openTurns = new WeakMap<object, number>();

/**
 * Waits until every earlier turn on `key` is released (first come, first served), then resolves
 * with the function that releases this turn. If `signal` aborts while waiting, rejects with its
 * reason and gives the turn up at once, so later turns do not wait for it. `onWait` is called
 * (before waiting) when an earlier turn is still open.
 *
 * The plugin takes a turn on its DuckDB instance for each conversion: one `COPY` already uses
 * every DuckDB thread, so running conversions one after another costs no throughput, while
 * running them together makes them share one memory limit, and DuckDB fails a query (Out of
 * Memory) that cannot get its buffers instead of waiting for them.
 */
export async function takeTurn(key: object, signal: AbortSignal, onWait?: () => void): Promise<() => void> {
  signal.throwIfAborted();
  const previous = lastTurns.get(key) ?? Promise.resolve();
  const open = openTurns.get(key) ?? 0;
  openTurns.set(key, open + 1);
  if (open > 0) onWait?.();
  let released = false;
  let resolveReleased = () => {};
  const whenReleased = new Promise<void>((resolve) => {
    resolveReleased = resolve;
  });
  const release = () => {
    if (released) return;
    released = true;
    openTurns.set(key, (openTurns.get(key) ?? 1) - 1);
    resolveReleased();
  };
  lastTurns.set(
    key,
    previous.then(() => whenReleased),
  );
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
  });
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([aborted, previous]);
    return release;
  } catch (error) {
    release();
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
