import type {
  LeaderInfo,
  LeaderLease,
  ScheduleAdvance,
  ScheduleRecord,
  ScheduleStore,
  ScheduleUpsertResult,
} from "./contracts/schedule.js";

/** A copy that shares nothing with the stored record (inputs are JSON). */
function copy(record: ScheduleRecord): ScheduleRecord {
  return structuredClone(record);
}

/**
 * Creates a schedule store in this process's memory: the store the scheduler falls back to when
 * the queue adapter has none, and the one behind `memory://`. It keeps every guarantee of the
 * {@link ScheduleStore} contract among the schedulers of one process; schedules are lost when the
 * process exits.
 *
 * @example
 * ```ts
 * import { createLocalScheduleStore } from "@conveyor/core";
 *
 * const store = createLocalScheduleStore();
 * const lease = await store.acquireLease("scheduler-1", 10_000);
 * console.log(lease?.token); // 1
 * ```
 */
export function createLocalScheduleStore(): ScheduleStore {
  const schedules = new Map<string, ScheduleRecord>();
  let lease: LeaderInfo | undefined;
  let lastToken = 0;
  const current = (now: number) => (lease !== undefined && lease.expiresAt > now ? lease : undefined);
  const holds = (given: LeaderLease, now: number) => {
    const held = current(now);
    return held !== undefined && held.owner === given.owner && held.token === given.token;
  };

  return {
    async upsert({ schedule, fingerprint, nextRunAt, now }): Promise<ScheduleUpsertResult> {
      const existing = schedules.get(schedule.name);
      if (existing?.fingerprint === fingerprint) return { schedule: copy(existing), status: "unchanged" };
      const record: ScheduleRecord = {
        ...structuredClone(schedule),
        fingerprint,
        nextRunAt,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        ...(existing?.lastRunAt !== undefined ? { lastRunAt: existing.lastRunAt } : {}),
        ...(existing?.lastJobId !== undefined ? { lastJobId: existing.lastJobId } : {}),
      };
      schedules.set(schedule.name, record);
      return { schedule: copy(record), status: existing ? "updated" : "created" };
    },
    async get(name) {
      const record = schedules.get(name);
      return record === undefined ? undefined : copy(record);
    },
    async list() {
      return [...schedules.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map(copy);
    },
    async due(now, limit) {
      return [...schedules.values()]
        .filter((record) => record.nextRunAt <= now)
        .sort((a, b) => a.nextRunAt - b.nextRunAt)
        .slice(0, limit)
        .map(copy);
    },
    async remove(name) {
      return schedules.delete(name);
    },
    async acquireLease(owner, ttlMs) {
      const now = Date.now();
      const held = current(now);
      if (held !== undefined && held.owner !== owner) return undefined;
      lease = { owner, token: held?.token ?? ++lastToken, expiresAt: now + ttlMs };
      return { owner, token: lease.token };
    },
    async renewLease(given, ttlMs) {
      const now = Date.now();
      if (!holds(given, now)) return false;
      lease = { ...given, expiresAt: now + ttlMs };
      return true;
    },
    async releaseLease(given) {
      if (holds(given, Date.now())) lease = undefined;
    },
    async leader() {
      const held = current(Date.now());
      return held === undefined ? undefined : { ...held };
    },
    async advance(name, step: ScheduleAdvance) {
      const record = schedules.get(name);
      if (record === undefined || !holds(step.lease, Date.now())) return false;
      if (record.nextRunAt !== step.expectedNextRunAt) return false;
      record.nextRunAt = step.nextRunAt;
      if (step.lastRunAt !== undefined) {
        record.lastRunAt = step.lastRunAt;
        if (step.lastJobId !== undefined) record.lastJobId = step.lastJobId;
        else delete record.lastJobId;
        if (step.lastError !== undefined) record.lastError = step.lastError;
        else delete record.lastError;
      }
      return true;
    },
  };
}
