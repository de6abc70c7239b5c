// Named stores live on globalThis, not in a module variable: the registry in @conveyor/core
// loads this package through `require.resolve` (its CJS build) while an application may import
// the ESM build, and both copies must find the same `memory://name` store.
const REGISTRY_KEY = Symbol.for("conveyor.memory.stores.v1");

type Kind = "queue" | "cache" | "rateLimiter" | "schedules";

/** A store that can be shared by name: counts its users and is disposed when the last one leaves. */
export interface SharedStore {
  users: number;
  dispose(): void;
}

type Registry = Record<Kind, Map<string, SharedStore>>;

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[REGISTRY_KEY];
  if (found === undefined) {
    found = { queue: new Map(), cache: new Map(), rateLimiter: new Map(), schedules: new Map() };
    holder[REGISTRY_KEY] = found;
  }
  // A registry made by an older copy of this package in the same process lacks newer kinds.
  found.schedules ??= new Map();
  return found;
}

/**
 * The store named `name` (created with `create` when nobody holds it), or a fresh private one
 * when `name` is undefined or empty. The caller must {@link leaveStore} it exactly once.
 */
export function joinStore<S extends SharedStore>(kind: Kind, name: string | undefined, create: () => S): S {
  if (!name) {
    const store = create();
    store.users = 1;
    return store;
  }
  const stores = registry()[kind];
  let store = stores.get(name) as S | undefined;
  if (store === undefined) {
    store = create();
    stores.set(name, store);
  }
  store.users++;
  return store;
}

/**
 * Gives up one use of a store. Like SQLite's shared in-memory databases, a named store lives
 * while someone uses it: the last user to leave disposes it and forgets its name.
 */
export function leaveStore(kind: Kind, name: string | undefined, store: SharedStore): void {
  store.users--;
  if (store.users > 0) return;
  store.dispose();
  if (name) {
    const stores = registry()[kind];
    if (stores.get(name) === store) stores.delete(name);
  }
}
