import { existsSync, readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/** The adapter's own Lua scripts over BullMQ's keys, as ioredis commands run by SHA. */
export interface AdapterCommands {
  conveyorBullmqGet(...args: string[]): Promise<string[]>;
  conveyorBullmqCancel(...args: string[]): Promise<string>;
  conveyorBullmqCounts(...args: string[]): Promise<number[]>;
  /** Takes the key count first (the number of keys depends on the jobs). */
  conveyorBullmqClaim(...args: (string | number)[]): Promise<number[]>;
  /** Takes the key count first; answers 1 while a subscriber listens (see finish-n.lua). */
  conveyorBullmqFinish(...args: (string | number)[]): Promise<number>;
}

/** Script files, `<name>-<numKeys>.lua` (`n`: given with each call), and the command each becomes. */
const SCRIPTS: readonly [file: string, keys: number | undefined, command: keyof AdapterCommands][] = [
  ["get-9", 9, "conveyorBullmqGet"],
  ["cancel-13", 13, "conveyorBullmqCancel"],
  ["counts-9", 9, "conveyorBullmqCounts"],
  ["claim-n", undefined, "conveyorBullmqClaim"],
  ["finish-n", undefined, "conveyorBullmqFinish"],
];

/** Next to this module: src/lua in tests, dist/lua once built (tsup copies them). */
function luaDir(): URL {
  const dir = new URL("./lua/", import.meta.url);
  if (existsSync(new URL("get-9.lua", dir))) return dir;
  throw new Error(
    `[conveyor:bullmq] the adapter's Lua scripts were not found in ${dir.pathname}. Reinstall @conveyor/bullmq.`,
  );
}

let sources: Map<string, string> | undefined;

/** Defines the adapter's commands on `client` (once per client) and returns it typed with them. */
export function withCommands(client: Redis): Redis & AdapterCommands {
  const typed = client as Redis & AdapterCommands;
  if (typeof typed.conveyorBullmqGet === "function") return typed;
  if (!sources) {
    const dir = luaDir();
    sources = new Map(SCRIPTS.map(([file]) => [file, readFileSync(new URL(`${file}.lua`, dir), "utf8")]));
  }
  for (const [file, numberOfKeys, command] of SCRIPTS) {
    client.defineCommand(command, {
      ...(numberOfKeys === undefined ? {} : { numberOfKeys }),
      lua: sources.get(file)!,
    });
  }
  return typed;
}
