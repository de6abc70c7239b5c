/** The last turn taken on each key: a promise that settles when that turn is released. */
const lastTurns = new WeakMap<object, Promise<void>>();

/**
 * Waits until every earlier turn on `key` is released (first come, first served), then resolves
 * with the function that releases this turn. If `signal` aborts while waiting, rejects with its
 * reason and gives the turn up at once, so later turns do not wait for it.
 *
 * The plugin takes a turn on its DuckDB instance for each conversion: one `COPY` already uses
 * every DuckDB thread, so running conversions one after another costs no throughput, while
 * running them together makes them share one memory limit, and DuckDB fails a query (Out of
 * Memory) that cannot get its buffers instead of waiting for them.
 */
export async function takeTurn(key: object, signal: AbortSignal): Promise<() => void> {
  signal.throwIfAborted();
  const previous = lastTurns.get(key) ?? Promise.resolve();
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  lastTurns.set(
    key,
    previous.then(() => released),
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
