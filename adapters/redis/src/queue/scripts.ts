import { existsSync, readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";
import type { ClaimedFields } from "./record.js";

/** The queue's Lua scripts as ioredis commands; each runs by SHA and is reloaded after NOSCRIPT. */
export interface QueueCommands {
  conveyorQueueAdd(...args: (string | number)[]): Promise<(1 | string[])[]>;
  conveyorQueueClaim(...args: (string | number)[]): Promise<[ClaimedFields[], number, number[]]>;
  conveyorQueueProgress(...args: (string | number)[]): Promise<number>;
  conveyorQueueExtend(...args: (string | number)[]): Promise<[string[], string[]]>;
  conveyorQueueRelease(...args: (string | number)[]): Promise<number>;
  conveyorQueueCancel(...args: (string | number)[]): Promise<string>;
  conveyorQueueRetry(...args: (string | number)[]): Promise<string[] | null>;
  conveyorQueueRemove(...args: (string | number)[]): Promise<number>;
  conveyorQueuePurge(...args: (string | number)[]): Promise<number>;
  conveyorQueueCounts(...args: (string | number)[]): Promise<number[]>;
  conveyorQueueList(...args: (string | number)[]): Promise<string[][]>;
}

/** Script files, `<name>-<numKeys>.lua`, and the command each becomes. */
const SCRIPTS: readonly [file: string, command: keyof QueueCommands][] = [
  ["add-2", "conveyorQueueAdd"],
  ["claim-2", "conveyorQueueClaim"],
  ["progress-1", "conveyorQueueProgress"],
  ["extend-1", "conveyorQueueExtend"],
  ["release-1", "conveyorQueueRelease"],
  ["cancel-1", "conveyorQueueCancel"],
  ["retry-1", "conveyorQueueRetry"],
  ["remove-1", "conveyorQueueRemove"],
  ["purge-1", "conveyorQueuePurge"],
  ["counts-1", "conveyorQueueCounts"],
  ["list-1", "conveyorQueueList"],
];

/**
 * Where the `.lua` files are: next to this module in src/ (tests, tsx), or in `queue/lua/` next
 * to the bundle once built (tsup copies them to dist/).
 */
function luaDir(): URL {
  const candidates = [new URL("./lua/", import.meta.url), new URL("./queue/lua/", import.meta.url)];
  for (const dir of candidates) if (existsSync(new URL("claim-2.lua", dir))) return dir;
  throw new Error(
    `[conveyor:redis] the queue's Lua scripts were not found (looked in ${candidates.map((c) => c.pathname).join(", ")}). Reinstall @conveyor/redis.`,
  );
}

let sources: Map<string, string> | undefined;

/** Reads every script once, pasting `-- @include <name>` lines from `lua/includes/<name>.lua`. */
export function loadScripts(): Map<string, string> {
  if (sources) return sources;
  const dir = luaDir();
  const read = (name: string) => readFileSync(new URL(name, dir), "utf8");
  const includes = new Map<string, string>();
  const expand = (text: string) =>
    text.replace(/^-- @include (\S+)$/gm, (_line, name: string) => {
      let body = includes.get(name);
      if (body === undefined) {
        body = read(`includes/${name}.lua`);
        includes.set(name, body);
      }
      return body;
    });
  sources = new Map(SCRIPTS.map(([file]) => [file, expand(read(`${file}.lua`))]));
  return sources;
}

/** Defines the queue's commands on `client` once (ioredis keeps the SHA and falls back on NOSCRIPT). */
export function queueCommands(client: Redis | Cluster): Redis & QueueCommands {
  const commands = client as unknown as Redis & Partial<QueueCommands>;
  if (typeof commands.conveyorQueueClaim !== "function") {
    const lua = loadScripts();
    for (const [file, command] of SCRIPTS) {
      const numberOfKeys = Number(file.slice(file.lastIndexOf("-") + 1));
      client.defineCommand(command, { numberOfKeys, lua: lua.get(file)! });
    }
  }
  return commands as Redis & QueueCommands;
}
