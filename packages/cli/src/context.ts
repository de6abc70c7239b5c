import {
  type Conveyor,
  type ConveyorConfig,
  createConveyor,
  loadConfig,
  type ResolvedBackends,
  resolveBackends,
} from "@conveyor/core";
import { type CliInput, type CliIo, Output } from "./io.js";

/**
 * The options every command takes (set before or after the command name), as commander parses
 * them: `--queue-url` becomes `queueUrl`.
 *
 * @example
 * ```ts
 * import { CommandContext, type GlobalOptions } from "@conveyor/cli";
 *
 * const globals: GlobalOptions = { url: "memory://", json: true };
 * const ctx = new CommandContext(globals, {});
 * ```
 */
export interface GlobalOptions {
  /** Config file; else `conveyor.config.{ts,mts,js,mjs}` in the working folder. */
  config?: string;
  /** One backend URL for queue, cache and rate limiter. */
  url?: string;
  /** Queue backend URL. */
  queueUrl?: string;
  /** Cache backend URL (a comma list makes tiers). */
  cacheUrl?: string;
  /** Rate-limiter backend URL. */
  rateLimitUrl?: string;
  /** Print JSON documents for scripts. */
  json?: boolean;
  /** Print only results, warnings and errors. */
  quiet?: boolean;
}

/**
 * Backend URLs given as CLI flags.
 *
 * @example
 * ```ts
 * import { type BackendFlags, resolveCliBackends } from "@conveyor/cli";
 *
 * const flags: BackendFlags = { url: "memory://shared", cacheUrl: "memory://cache" };
 * console.log(resolveCliBackends({}, flags));
 * ```
 */
export type BackendFlags = Pick<GlobalOptions, "url" | "queueUrl" | "cacheUrl" | "rateLimitUrl">;

const given = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

/**
 * Resolves the backend of each contract the way the CLI does: defaults → config file → env
 * (`CONVEYOR_*`) → flags; a per-contract flag beats `--url`. Pass the result to `createConveyor`
 * together with `env: false`, so the env is not applied a second time over the flags.
 *
 * @example
 * ```ts
 * import { resolveCliBackends } from "@conveyor/cli";
 *
 * const backends = resolveCliBackends({ url: "memory://" }, { queueUrl: "redis://localhost:6379" }, {});
 * // { queue: "redis://localhost:6379", cache: "memory://", rateLimiter: "memory://" }
 * ```
 */
export function resolveCliBackends(
  config: ConveyorConfig,
  flags: BackendFlags,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedBackends {
  const base = resolveBackends(config, env);
  const url = given(flags.url);
  return {
    queue: given(flags.queueUrl) ?? url ?? base.queue,
    cache: given(flags.cacheUrl) ?? url ?? base.cache,
    rateLimiter: given(flags.rateLimitUrl) ?? url ?? base.rateLimiter,
  };
}

/**
 * What a command runs with: the parsed global flags, the output and the process-like IO. Commands
 * of your own (added to {@link createCli}'s program) use it to open the platform the way the
 * built-in ones do.
 *
 * @example
 * ```ts
 * import { CommandContext, createCli, type GlobalOptions, runCli } from "@conveyor/cli";
 *
 * const program = createCli();
 * program.command("count-tasks").action(async () => {
 *   const ctx = new CommandContext(program.opts<GlobalOptions>(), {});
 *   await ctx.withPlatform(async (conveyor) => ctx.out.line(String(conveyor.tasks().length)));
 * });
 * process.exitCode = await runCli(["count-tasks"], { program });
 * ```
 */
export class CommandContext {
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly signal: AbortSignal | undefined;
  /** Where confirmations are read from. */
  readonly stdin: CliInput;
  /** The job a command works on, added to `--json` error documents. */
  job: { id: string; queue?: string; task?: string } | undefined;

  /** The IO the command runs with. */
  readonly io: CliIo;

  constructor(
    readonly globals: GlobalOptions,
    io: CliIo,
    /** The command line of this run, as given to `runCli`. @defaultValue [] */
    readonly argv: readonly string[] = [],
  ) {
    this.io = io;
    this.out = new Output(io, { json: globals.json === true, quiet: globals.quiet === true });
    this.env = io.env ?? process.env;
    this.cwd = io.cwd ?? process.cwd();
    this.signal = io.signal;
    this.stdin = io.stdin ?? process.stdin;
  }

  /** Loads the config file and creates the platform with the CLI's precedence. */
  async open(): Promise<Conveyor> {
    const file = await loadConfig({
      cwd: this.cwd,
      ...(this.globals.config ? { file: this.globals.config } : {}),
    });
    const backends = resolveCliBackends(file, this.globals, this.env);
    return createConveyor({
      ...file,
      ...backends,
      env: false,
      roots: file.roots ?? [this.cwd],
      logger: file.logger ?? this.out.logger(this.env),
    });
  }

  /** Opens the platform, runs `use` and closes the platform whatever happens. */
  async withPlatform<T>(use: (conveyor: Conveyor) => Promise<T>): Promise<T> {
    const conveyor = await this.open();
    let result: T;
    try {
      result = await use(conveyor);
    } catch (error) {
      // The command's own error says what went wrong; a failing close is only reported next to it.
      await conveyor.close().catch((closeError: unknown) => {
        this.out.warn(
          `[conveyor:cli] closing the backends also failed: ${(closeError as Error)?.message ?? closeError}`,
        );
      });
      throw error;
    }
    await conveyor.close();
    return result;
  }
}
