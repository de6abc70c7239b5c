import { createLocalScheduleStore, type ScheduleStore } from "@conveyor/core";
import { joinStore, leaveStore, type SharedStore } from "./registry.js";

interface SharedSchedules extends SharedStore {
  readonly store: ScheduleStore;
}

/**
 * The schedule store of a memory queue: the core's in-process store, shared by every memory queue
 * of the same store name (`memory://app`) in this process, like their jobs.
 */
export function joinScheduleStore(name: string | undefined): {
  store: ScheduleStore;
  leave(): void;
} {
  const shared = joinStore<SharedSchedules>("schedules", name, () => ({
    users: 0,
    store: createLocalScheduleStore(),
    dispose() {},
  }));
  let left = false;
  return {
    store: shared.store,
    leave() {
      if (left) return;
      left = true;
      leaveStore("schedules", name, shared);
    },
  };
}
