import { type Logger, type LogLevel, maskUrlsIn } from "@conveyor/core";

/**
 * Where the CLI writes: `process.stdout`/`process.stderr`, or a capture in tests.
 *
 * @example
 * ```ts
 * import type { CliStream } from "@conveyor/cli";
 *
 * const lines: string[] = [];
 * const capture: CliStream = { write: (chunk: string) => lines.push(chunk), isTTY: false };
 * ```
 */
export interface CliStream {
  /** Writes one chunk of text. */
  write(chunk: string): unknown;
  /** True on a terminal: progress bars redraw one line and tables are aligned for reading. */
  isTTY?: boolean;
  /** Terminal width; progress lines are cut to it. */
  columns?: number;
}

/**
 * What {@link runCli} runs against. Every field defaults to the real process, so tests and
 * embedding apps can capture output and pass their own environment.
 *
 * @example
 * ```ts
 * import { runCli } from "@conveyor/cli";
 *
 * let out = "";
 * const code = await runCli(["inspect", "registered", "--json"], {
 *   stdout: { write: (chunk: string) => (out += chunk) },
 *   env: { ...process.env, CONVEYOR_URL: "memory://" },
 * });
 * console.log(code, JSON.parse(out));
 * ```
 */
export interface CliIo {
  /** Results and `--json` documents. @defaultValue process.stdout */
  stdout?: CliStream;
  /** Logs, progress, warnings and errors. @defaultValue process.stderr */
  stderr?: CliStream;
  /** Environment the `CONVEYOR_*` variables are read from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Folder the config file is looked for in and relative paths resolve from. @defaultValue process.cwd() */
  cwd?: string;
  /** Aborting it stops a running worker (drained) or a wait, as Ctrl-C would. */
  signal?: AbortSignal;
  /** Where confirmations (`conveyor purge`) are read from; asked only when it is a TTY. @defaultValue process.stdin */
  stdin?: CliInput;
}

/**
 * Where the CLI reads a confirmation answer: `process.stdin`, or a stand-in in tests.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import type { CliInput } from "@conveyor/cli";
 *
 * const answer: CliInput = Object.assign(Readable.from(["y\n"]), { isTTY: true });
 * ```
 */
export type CliInput = NodeJS.ReadableStream & {
  /** True on a terminal: only then does the CLI ask before destructive commands. */
  isTTY?: boolean;
};

/**
 * The output flags every command accepts (`--json`, `--quiet`).
 *
 * @example
 * ```ts
 * import { Output, type OutputFlags } from "@conveyor/cli";
 *
 * const flags: OutputFlags = { json: true, quiet: false };
 * new Output({}, flags).json({ ok: true });
 * ```
 */
export interface OutputFlags {
  json: boolean;
  quiet: boolean;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Writes results to stdout and everything else to stderr, masking URL passwords in messages.
 *
 * @example
 * ```ts
 * import { Output } from "@conveyor/cli";
 *
 * const out = new Output({}, { json: false, quiet: false });
 * out.line("42"); // stdout: the result
 * out.info("connected to redis://:secret@localhost:6379"); // stderr: redis://:***@localhost:6379
 * ```
 */
export class Output {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** Whether anything was written to stdout (error documents are not added after a result). */
  wroteStdout = false;

  constructor(
    io: CliIo,
    readonly flags: OutputFlags,
  ) {
    this.stdout = io.stdout ?? process.stdout;
    this.stderr = io.stderr ?? process.stderr;
  }

  /** One line of result text on stdout (never masked: it is the job's data). */
  line(text: string): void {
    this.wroteStdout = true;
    this.stdout.write(`${text}\n`);
  }

  /** A JSON document on stdout. */
  json(value: unknown): void {
    this.line(JSON.stringify(value, null, 2));
  }

  /** A human-readable note on stderr, hidden by `--quiet`. */
  info(text: string): void {
    if (!this.flags.quiet) this.stderr.write(`${maskUrlsIn(text)}\n`);
  }

  /** A warning on stderr, shown even with `--quiet`. */
  warn(text: string): void {
    this.stderr.write(`${maskUrlsIn(text)}\n`);
  }

  /** A logger for the runtime that writes `conveyor <level> message k=v` lines to stderr. */
  logger(env: NodeJS.ProcessEnv): Logger {
    const fromEnv = env.CONVEYOR_LOG_LEVEL as LogLevel | undefined;
    const configured = LEVELS[fromEnv ?? "info"] ?? LEVELS.info;
    const min = this.flags.quiet ? Math.max(configured, LEVELS.warn) : configured;
    const write =
      (level: Exclude<LogLevel, "silent">) => (message: string, fields?: Record<string, unknown>) => {
        if (LEVELS[level] < min) return;
        const extra = fields
          ? Object.entries(fields)
              .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
              .join(" ")
          : "";
        this.stderr.write(`${maskUrlsIn(`conveyor ${level} ${message}${extra ? ` ${extra}` : ""}`)}\n`);
      };
    return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
  }
}

/**
 * Lays rows out in aligned columns under a header, two spaces apart.
 *
 * @example
 * ```ts
 * import { renderTable } from "@conveyor/cli";
 * console.log(renderTable(["NAME", "QUEUE"], [["files.wordCount", "default"]]));
 * // NAME             QUEUE
 * // files.wordCount  default
 * ```
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [format(headers), ...rows.map(format)].join("\n");
}

/**
 * Keeps the process alive until the returned function is called. An in-process backend holds
 * no socket or timer while it waits for jobs, so without this a worker or a wait would let Node
 * end the process ("unsettled top-level await", exit 13) instead of waiting.
 */
export function keepAlive(): () => void {
  const timer = setInterval(() => {}, 2 ** 30);
  return () => clearInterval(timer);
}
