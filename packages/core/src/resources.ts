import type { Logger, Resource } from "./contracts/task.js";

/**
 * Holds the resources of one worker process: each is loaded on first use, once, shared by
 * concurrent jobs, and disposed in reverse load order. A failed load is forgotten so the next
 * job tries again.
 */
export class ResourcePool {
  private readonly values = new Map<string, { resource: Resource<unknown>; value: Promise<unknown> }>();
  private controller = new AbortController();

  constructor(private readonly log: Logger) {}

  /** The shared instance of `resource`, loading it when needed. */
  get<T>(resource: Resource<T>): Promise<T> {
    const held = this.values.get(resource.name);
    if (held) return held.value as Promise<T>;
    const value = Promise.resolve().then(() =>
      resource.load({ log: this.log, signal: this.controller.signal }),
    );
    this.values.set(resource.name, { resource: resource as Resource<unknown>, value });
    value.catch((error) => {
      this.log.warn("resource failed to load; the next job will try again", {
        resource: resource.name,
        error: String(error),
      });
      if (this.values.get(resource.name)?.value === value) this.values.delete(resource.name);
    });
    return value;
  }

  /** Names of the resources loaded or loading. */
  loaded(): string[] {
    return [...this.values.keys()];
  }

  /** Disposes every loaded resource (newest first); errors are logged, every resource is tried. */
  async dispose(): Promise<void> {
    this.controller.abort();
    // A worker started after this one closed gets a fresh signal for its loads.
    this.controller = new AbortController();
    const held = [...this.values.values()].reverse();
    this.values.clear();
    for (const { resource, value } of held) {
      try {
        const loaded = await value;
        await resource.dispose?.(loaded);
      } catch (error) {
        this.log.warn("resource failed to dispose", { resource: resource.name, error: String(error) });
      }
    }
  }
}
