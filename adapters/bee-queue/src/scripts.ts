import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { RedisClient } from "redis";

/** Script files, `<name>-<numKeys>.lua`. */
const SCRIPTS = [
  "add-0",
  "claim-0",
  "finish-0",
  "progress-0",
  "cancel-0",
  "remove-0",
  "retry-0",
  "purge-0",
  "counts-0",
  "list-0",
  "release-0",
  "stalled-0",
  "poll-0",
  "prune-0",
] as const;

/** The name of one of the adapter's Lua scripts. */
export type ScriptName = (typeof SCRIPTS)[number];

/**
 * Where the `.lua` files are: next to this module in src/ (tests, tsx), or in `lua/` next to
 * the bundle once built (tsup copies them to dist/).
 */
function luaDir(): URL {
  const dir = new URL("./lua/", import.meta.url);
  if (existsSync(new URL("claim-0.lua", dir))) return dir;
  throw new Error(
    `[conveyor:bee-queue] the adapter's Lua scripts were not found in ${dir.pathname}. Reinstall @conveyor/bee-queue.`,
  );
}

interface Script {
  readonly source: string;
  readonly sha: string;
}

let scripts: Map<ScriptName, Script> | undefined;

/** Reads every script once, pasting `-- @include <name>` lines from `lua/includes/<name>.lua`. */
function load(): Map<ScriptName, Script> {
  if (scripts) return scripts;
  const dir = luaDir();
  const read = (name: string) => readFileSync(new URL(name, dir), "utf8");
  const expand = (text: string) =>
    text.replace(/^-- @include (\S+)$/gm, (_line, name: string) => read(`includes/${name}.lua`));
  scripts = new Map(
    SCRIPTS.map((name) => {
      const source = expand(read(`${name}.lua`));
      return [name, { source, sha: createHash("sha1").update(source).digest("hex") }];
    }),
  );
  return scripts;
}

/**
 * Runs one script by SHA on `client` (numKeys 0: every key is derived from ARGV), falling back to
 * EVAL when the server does not know it (first use, or after a restart flushed its script cache).
 */
export function runScript<T>(
  client: RedisClient,
  name: ScriptName,
  args: readonly (string | number)[],
): Promise<T> {
  const script = load().get(name)!;
  // Numbers go as they are: the client writes every argument as a string itself.
  return new Promise<T>((resolve, reject) => {
    client.evalsha(script.sha, 0, ...(args as string[]), (error: Error | null, reply: unknown) => {
      if (!error) {
        resolve(reply as T);
        return;
      }
      if (!/NOSCRIPT/.test(error.message)) {
        reject(error);
        return;
      }
      client.eval(script.source, 0, ...(args as string[]), (again: Error | null, value: unknown) =>
        again ? reject(again) : resolve(value as T),
      );
    });
  });
}
