import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
/** Small helpers shared by the benchmarks: medians, percentiles, formatting, GC. */

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`-th percentile (0..100) of an ascending array, nearest rank. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** `123456.7` → `"123,457"`. */
export function formatRate(jobsPerSecond: number): string {
  return Number.isFinite(jobsPerSecond) ? Math.round(jobsPerSecond).toLocaleString("en-US") : "–";
}

/** Milliseconds with three decimals (microsecond resolution), `–` when unknown. */
export function formatMs(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(3) : "–";
}

/**
 * Collects garbage left by the previous round so it is not charged to the next one.
 * Needs `node --expose-gc`; two passes because the first one may only promote survivors.
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  await new Promise((resolve) => setImmediate(resolve));
  if (gc) {
    gc();
    gc();
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Whether the process was started with `--expose-gc`. */
export const canCollectGarbage = (): boolean => typeof (globalThis as { gc?: unknown }).gc === "function";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A markdown table with padded, aligned columns: the layout `biome format` gives markdown, so a
 * results file written by the benchmark passes `biome check` as it is.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly string[][],
  align: readonly ("left" | "right")[],
): string[] {
  const widths = header.map((cell, i) => Math.max(3, cell.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const pad = (cell: string, i: number) =>
    align[i] === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = widths.map((w, i) => (align[i] === "right" ? `${"-".repeat(w - 1)}:` : "-".repeat(w)));
  return [line(header), `| ${rule.join(" | ")} |`, ...rows.map(line)];
}

/**
 * The commit the measured packages come from (short hash), and whether the sources under `paths`
 * (relative to the repo root) differ from it; "an unknown revision" outside a git checkout.
 */
export function sourceRevision(paths: readonly string[]): string {
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      encoding: "utf8",
    }).trim();
  try {
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", ...paths) !== "";
    return dirty ? `${head} plus uncommitted changes in ${paths.join(", ")}` : head;
  } catch {
    return "an unknown revision";
  }
}
