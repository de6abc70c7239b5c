import type { Progress } from "./contracts/job.js";

/** `ctx.progress`'s arguments as one `Progress`: a number is `current`, with `total` and `message`. */
export function toProgress(progress: Progress | number, total?: number, message?: string): Progress {
  return typeof progress === "number"
    ? {
        current: progress,
        ...(total !== undefined ? { total } : {}),
        ...(message !== undefined ? { message } : {}),
      }
    : progress;
}
