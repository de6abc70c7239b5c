import { existsSync, readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

/** The schedule store's Lua scripts as ioredis commands; each runs by SHA and is reloaded after NOSCRIPT. */
export interface ScheduleCommands {
  conveyorScheduleUpsert(...args: (string | number)[]): Promise<[string, string[]]>;
  conveyorScheduleRemove(...args: (string | number)[]): Promise<number>;
  conveyorScheduleDue(...args: (string | number)[]): Promise<[string, string[]][]>;
  conveyorScheduleAcquire(...args: (string | number)[]): Promise<number | null>;
  conveyorScheduleRenew(...args: (string | number)[]): Promise<number>;
  conveyorScheduleRelease(...args: (string | number)[]): Promise<number>;
  conveyorScheduleLeader(...args: (string | number)[]): Promise<[string, number] | null>;
  conveyorScheduleAdvance(...args: (string | number)[]): Promise<number>;
}

/** Script files, `<name>-<numKeys>.lua`, and the command each becomes. */
const SCRIPTS: readonly [file: string, command: keyof ScheduleCommands][] = [
  ["upsert-2", "conveyorScheduleUpsert"],
  ["remove-2", "conveyorScheduleRemove"],
  ["due-1", "conveyorScheduleDue"],
  ["acquire-2", "conveyorScheduleAcquire"],
  ["renew-1", "conveyorScheduleRenew"],
  ["release-1", "conveyorScheduleRelease"],
  ["leader-1", "conveyorScheduleLeader"],
  ["advance-3", "conveyorScheduleAdvance"],
];

/**
 * Where the `.lua` files are: next to this module in src/ (tests, tsx), or in `schedules/lua/`
 * next to the bundle once built (tsup copies them to dist/).
 */
function luaDir(): URL {
  const candidates = [new URL("./lua/", import.meta.url), new URL("./schedules/lua/", import.meta.url)];
  for (const dir of candidates) if (existsSync(new URL("advance-3.lua", dir))) return dir;
  throw new Error(
    `[conveyor:redis] the schedule store's Lua scripts were not found (looked in ${candidates.map((c) => c.pathname).join(", ")}). Reinstall @conveyor/redis.`,
  );
}

let sources: Map<string, string> | undefined;

/** Defines the schedule commands on `client` once (ioredis keeps the SHA and falls back on NOSCRIPT). */
export function scheduleCommands(client: Redis | Cluster): Redis & ScheduleCommands {
  const commands = client as unknown as Redis & Partial<ScheduleCommands>;
  if (typeof commands.conveyorScheduleAdvance !== "function") {
    if (sources === undefined) {
      const dir = luaDir();
      sources = new Map(SCRIPTS.map(([file]) => [file, readFileSync(new URL(`${file}.lua`, dir), "utf8")]));
    }
    for (const [file, command] of SCRIPTS) {
      const numberOfKeys = Number(file.slice(file.lastIndexOf("-") + 1));
      client.defineCommand(command, { numberOfKeys, lua: sources.get(file)! });
    }
  }
  return commands as Redis & ScheduleCommands;
}
