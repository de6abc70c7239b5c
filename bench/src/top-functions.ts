/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by self time: the functions that burn the
 * most CPU themselves, grouped by where they live (core, memory adapter, bench, fastq, Node
 * internals), with positions mapped back to the TypeScript sources through the build's
 * source maps.
 *
 *   pnpm --filter @conveyor/bench profile           # writes bench/profiles/*.cpuprofile
 *   pnpm --filter @conveyor/bench top-functions     # newest profile in bench/profiles
 *   node --import tsx src/top-functions.ts FILE.cpuprofile [--top 25]
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The main thread's profile of the newest run in `dir`. `--import tsx` adds a loader thread with
 * its own (mostly idle) profile; files are named `CPU.<date>.<time>.<pid>.<thread>.<n>`, and the
 * main thread is thread 0.
 */
function newestProfile(dir: string): string {
  if (!existsSync(dir))
    throw new Error(`no profile given and ${dir} does not exist; run the profile script first`);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".cpuprofile"))
    .map((name) => {
      const [, , , pid, thread] = name.split(".");
      return { path: join(dir, name), pid, thread, stat: statSync(join(dir, name)) };
    })
    .sort((a, b) => b.stat.mtimeMs - a.stat.mtimeMs);
  const newest = files[0];
  if (!newest) throw new Error(`no .cpuprofile in ${dir}; run the profile script first`);
  return (files.find((file) => file.pid === newest.pid && file.thread === "0") ?? newest).path;
}

function areaOf(url: string): string {
  if (url.includes("/packages/core/")) return "core";
  if (url.includes("/adapters/memory/")) return "memory";
  if (url.includes("/node_modules/") && url.includes("fastq")) return "fastq";
  if (url.includes("/bench/")) return "bench";
  if (url.startsWith("node:")) return "node";
  if (url === "") return "v8";
  return "other";
}

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    let map: SourceMap | undefined;
    try {
      const file = fileURLToPath(url);
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")));
    } catch {
      map = undefined;
    }
    maps.set(url, map);
  }
  return maps.get(url);
}

/** `packages/core/src/worker.ts:123` when a source map knows the position, else the built file. */
function whereOf(frame: CallFrame): string {
  if (!frame.url.startsWith("file:")) return frame.url || "(native)";
  const entry = sourceMapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (entry && "originalSource" in entry && entry.originalSource) {
    // Sources in a map are relative to the built file's folder.
    const source = entry.originalSource.startsWith("file:")
      ? fileURLToPath(entry.originalSource)
      : resolve(dirname(fileURLToPath(frame.url)), entry.originalSource);
    return `${relative(repoRoot, source)}:${entry.originalLine + 1}`;
  }
  return `${relative(repoRoot, fileURLToPath(frame.url))}:${frame.lineNumber + 1}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" } },
  });
  const top = Number(values.top);
  const file = positionals[0] ?? newestProfile(fileURLToPath(new URL("../profiles", import.meta.url)));
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  }

  // One row per function, summed over every call path that reached it.
  const rows = new Map<string, { name: string; area: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const where = whereOf(frame);
    const name = frame.functionName || "(anonymous)";
    const key = `${name}\0${where}`;
    const row = rows.get(key) ?? { name, area: areaOf(frame.url), where, us: 0 };
    row.us += us;
    rows.set(key, row);
  }
  const sorted = [...rows.values()].sort((a, b) => b.us - a.us);
  const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1)} %`;

  const areas = new Map<string, number>();
  for (const row of sorted) areas.set(row.area, (areas.get(row.area) ?? 0) + row.us);
  console.log(`${file}\n${(totalUs / 1000).toFixed(0)} ms sampled\n\nself time by area:`);
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]))
    console.log(`  ${area.padEnd(8)} ${pct(us)}`);

  const table = (title: string, list: typeof sorted) => {
    console.log(`\n${title}\n| self | area | function | where |\n| ---: | --- | --- | --- |`);
    for (const row of list.slice(0, top))
      console.log(`| ${pct(row.us)} | ${row.area} | ${row.name} | ${row.where} |`);
  };
  table("top functions by self time:", sorted);
  table(
    "core:",
    sorted.filter((row) => row.area === "core"),
  );
  table(
    "memory adapter:",
    sorted.filter((row) => row.area === "memory"),
  );
}

main();
