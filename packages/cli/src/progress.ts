import type { Progress } from "@conveyor/core";
import type { CliStream } from "./io.js";

/**
 * Options of {@link renderProgressBar}.
 *
 * @example
 * ```ts
 * import { renderProgressBar } from "@conveyor/cli";
 * renderProgressBar({ current: 1, total: 2 }, { width: 4 }); // "[##..] 1/2 50%"
 * ```
 */
export interface ProgressBarOptions {
  /** Number of cells between the brackets. @defaultValue 10 */
  width?: number;
}

/**
 * Renders progress as one line: `[###.......] 12/40 30% message`. Without a total there is no
 * bar, only the count and the message.
 *
 * @example
 * ```ts
 * import { renderProgressBar } from "@conveyor/cli";
 * renderProgressBar({ current: 12, total: 40, message: "src/a.ts" }); // "[###.......] 12/40 30% src/a.ts"
 * ```
 */
export function renderProgressBar(progress: Progress, options: ProgressBarOptions = {}): string {
  const width = Math.max(1, options.width ?? 10);
  const message = progress.message ? ` ${progress.message}` : "";
  const { current, total } = progress;
  if (total === undefined || !Number.isFinite(total) || total <= 0) return `${current}${message}`;
  const ratio = Math.min(1, Math.max(0, current / total));
  const filled = Math.floor(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${current}/${total} ${Math.floor(ratio * 100)}%${message}`;
}

/**
 * Options of {@link createProgressDisplay}.
 *
 * @example
 * ```ts
 * import { createProgressDisplay } from "@conveyor/cli";
 * const display = createProgressDisplay(process.stderr, { tty: false, intervalMs: 1_000, width: 30 });
 * ```
 */
export interface ProgressDisplayOptions {
  /**
   * Redraw one line in place (`\r`). When false, progress is printed as plain lines, at most
   * one per `intervalMs` plus the last one.
   * @defaultValue `stream.isTTY`
   */
  tty?: boolean;
  /** Minimum time between two plain progress lines. @defaultValue 200 */
  intervalMs?: number;
  /** Cells of the bar. @defaultValue 20 */
  width?: number;
}

/**
 * Shows a job's progress on a stream; see {@link createProgressDisplay}.
 *
 * @example
 * ```ts
 * import { createProgressDisplay, type ProgressDisplay } from "@conveyor/cli";
 *
 * const display: ProgressDisplay = createProgressDisplay(process.stderr);
 * display.note("job started");
 * display.update({ current: 3, total: 10, message: "rows" });
 * display.done();
 * ```
 */
export interface ProgressDisplay {
  /** Shows new progress. */
  update(progress: Progress): void;
  /** Prints a line of its own (a state change) without breaking the bar. */
  note(text: string): void;
  /** Ends the display; a drawn bar is finished with a newline. */
  done(): void;
}

/**
 * A progress display for a long wait: on a terminal it redraws one line with `\r`
 * (`[#####.....] 12/40 30% message`); elsewhere it prints plain `progress …` lines.
 *
 * @example
 * ```ts
 * import { createProgressDisplay } from "@conveyor/cli";
 * const display = createProgressDisplay(process.stderr);
 * display.update({ current: 1, total: 4, message: "first file" });
 * display.done();
 * ```
 */
export function createProgressDisplay(
  stream: CliStream,
  options: ProgressDisplayOptions = {},
): ProgressDisplay {
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? 200;
  const width = options.width ?? 20;
  let drawn = false;
  let last: Progress | undefined;
  let lastPrintedAt = 0;
  let lastPrinted = "";

  const draw = () => {
    if (!last) return;
    let text = renderProgressBar(last, { width });
    const columns = stream.columns ?? 0;
    if (columns > 1 && text.length > columns - 1) text = `${text.slice(0, columns - 2)}…`;
    stream.write(`\r\x1b[K${text}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stream.write("\r\x1b[K");
    drawn = false;
  };

  return {
    update(progress) {
      last = progress;
      if (tty) return draw();
      const text = `progress ${renderProgressBar(progress, { width })}`;
      const now = Date.now();
      const final = progress.total !== undefined && progress.current >= progress.total;
      if (text === lastPrinted || (!final && lastPrintedAt !== 0 && now - lastPrintedAt < intervalMs)) return;
      lastPrintedAt = now;
      lastPrinted = text;
      stream.write(`${text}\n`);
    },
    note(text) {
      if (!tty) {
        stream.write(`${text}\n`);
        return;
      }
      clear();
      stream.write(`${text}\n`);
      draw();
    },
    done() {
      if (tty && drawn) stream.write("\n");
      drawn = false;
    },
  };
}
