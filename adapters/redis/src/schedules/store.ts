import type { LeaderLease, ScheduleRecord, ScheduleStore, ScheduleUpsertResult } from "@conveyor/core";
import type { Cluster, Redis } from "ioredis";
import { scheduleCommands } from "./scripts.js";

/** Runs one Redis call the way the queue does: open check, wait for the connection, typed errors. */
export type RedisCall = <T>(run: () => Promise<T>) => Promise<T>;

function toRecord(flat: readonly string[]): ScheduleRecord {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  const last = fields.get("last");
  const job = fields.get("job");
  const err = fields.get("err");
  return {
    ...(JSON.parse(fields.get("def") ?? "{}") as Omit<ScheduleRecord, "fingerprint" | "nextRunAt">),
    fingerprint: fields.get("fp") ?? "",
    nextRunAt: Number(fields.get("next")),
    ...(last !== undefined ? { lastRunAt: Number(last) } : {}),
    ...(job !== undefined ? { lastJobId: job } : {}),
    ...(err !== undefined ? { lastError: err } : {}),
    createdAt: Number(fields.get("created")),
    updatedAt: Number(fields.get("updated")),
  };
}

const leaseValue = (lease: LeaderLease) => `${lease.token}|${lease.owner}`;

/**
 * The schedule store of a Redis queue. Every key shares the queue's hash tag (`{prefix}`), so each
 * script is atomic on a Cluster too: a sorted set of names by next run, a hash per schedule, the
 * lease as a string `<token>|<owner>` with a TTL (Redis's clock decides expiry), and a counter that
 * hands out fencing tokens.
 */
export function createRedisScheduleStore(
  client: Redis | Cluster,
  base: string,
  call: RedisCall,
): ScheduleStore {
  const redis = scheduleCommands(client);
  const index = `${base}schedules`;
  const leaderKey = `${base}schedules:leader`;
  const fenceKey = `${base}schedules:fence`;
  const key = (name: string) => `${base}sch:${name}`;

  return {
    async upsert({ schedule, fingerprint, nextRunAt, now }): Promise<ScheduleUpsertResult> {
      const [status, flat] = await call(() =>
        redis.conveyorScheduleUpsert(
          index,
          key(schedule.name),
          schedule.name,
          fingerprint,
          JSON.stringify(schedule),
          nextRunAt,
          now,
        ),
      );
      return { status: status as ScheduleUpsertResult["status"], schedule: toRecord(flat) };
    },
    async get(name) {
      const flat = await call(() => redis.hgetall(key(name)));
      return Object.keys(flat).length === 0 ? undefined : toRecord(Object.entries(flat).flat());
    },
    async list() {
      const found = await call(() => redis.conveyorScheduleDue(index, base, "+inf", 1_000_000));
      return found
        .map(([, flat]) => toRecord(flat))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async due(now, limit) {
      const found = await call(() => redis.conveyorScheduleDue(index, base, now, limit));
      return found.map(([, flat]) => toRecord(flat));
    },
    async remove(name) {
      return (await call(() => redis.conveyorScheduleRemove(index, key(name), name))) === 1;
    },
    async acquireLease(owner, ttlMs) {
      const token = await call(() =>
        redis.conveyorScheduleAcquire(leaderKey, fenceKey, owner, Math.ceil(ttlMs)),
      );
      return token === null ? undefined : { owner, token: Number(token) };
    },
    async renewLease(lease, ttlMs) {
      return (
        (await call(() => redis.conveyorScheduleRenew(leaderKey, leaseValue(lease), Math.ceil(ttlMs)))) === 1
      );
    },
    async releaseLease(lease) {
      await call(() => redis.conveyorScheduleRelease(leaderKey, leaseValue(lease)));
    },
    async leader() {
      const held = await call(() => redis.conveyorScheduleLeader(leaderKey));
      if (held === null) return undefined;
      const [value, remainingMs] = held;
      const sep = value.indexOf("|");
      return {
        token: Number(value.slice(0, sep)),
        owner: value.slice(sep + 1),
        expiresAt: Date.now() + Math.max(0, Number(remainingMs)),
      };
    },
    async advance(name, step) {
      const fired = step.lastRunAt !== undefined;
      const answer = await call(() =>
        redis.conveyorScheduleAdvance(
          leaderKey,
          index,
          key(name),
          leaseValue(step.lease),
          name,
          step.expectedNextRunAt,
          step.nextRunAt,
          fired ? "1" : "0",
          step.lastRunAt ?? "",
          step.lastJobId ?? "",
          step.lastError ?? "",
        ),
      );
      return answer === 1;
    },
  };
}
