/** A duration for a table cell: `850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h`. */
export function formatDuration(ms: number): string {
  const value = Math.max(0, ms);
  if (value < 1_000) return `${Math.round(value)}ms`;
  if (value < 60_000) return `${(value / 1_000).toFixed(1)}s`;
  const seconds = Math.floor(value / 1_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${pad(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${pad(Math.floor(seconds / 3_600) % 24)}h`;
}

/** An epoch-ms time for a table cell (ISO 8601, UTC), `-` when unknown. */
export function formatTime(epochMs: number | undefined): string {
  return epochMs === undefined ? "-" : new Date(epochMs).toISOString();
}
