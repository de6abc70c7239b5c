// Listeners live on globalThis, not in a module variable: an application may load this package's
// ESM build while the core's registry loads the CJS one, and both must wake each other.
const REGISTRY_KEY = Symbol.for("conveyor.disk.listeners.v1");

/** Something woken when a connection in this process commits a change to a store file. */
export interface ChangeListener {
  changed(): void;
  /** A cancel of the active job `jobId` was stored; its holder in this process aborts it at once. */
  cancelRequested?(jobId: string): void;
}

function registry(): Map<string, Set<ChangeListener>> {
  const holder = globalThis as unknown as Record<symbol, Map<string, Set<ChangeListener>> | undefined>;
  let found = holder[REGISTRY_KEY];
  if (found === undefined) {
    found = new Map();
    holder[REGISTRY_KEY] = found;
  }
  return found;
}

/** Starts waking `listener` on every commit to `file` made in this process. */
export function listen(file: string, listener: ChangeListener): void {
  const listeners = registry();
  let set = listeners.get(file);
  if (set === undefined) {
    set = new Set();
    listeners.set(file, set);
  }
  set.add(listener);
}

/** Stops waking `listener`. */
export function unlisten(file: string, listener: ChangeListener): void {
  const listeners = registry();
  const set = listeners.get(file);
  if (set === undefined) return;
  set.delete(listener);
  if (set.size === 0) listeners.delete(file);
}

/**
 * Tells every listener of `file` in this process that it changed. Other processes find out by
 * polling `PRAGMA data_version`; within the process this makes a local add or cancel immediate.
 * `except` is the caller itself, which knows what it wrote.
 */
export function notify(file: string, except?: ChangeListener): void {
  const set = registry().get(file);
  if (set === undefined) return;
  for (const listener of set) if (listener !== except) listener.changed();
}

/**
 * Tells the listeners of `file` in this process that the active job `jobId` was cancelled, so a
 * consumer here that holds it aborts its handler before the handler can go on (a consumer in
 * another process finds the flag on its next poll).
 */
export function notifyCancel(file: string, jobId: string): void {
  const set = registry().get(file);
  if (set === undefined) return;
  for (const listener of set) listener.cancelRequested?.(jobId);
}
