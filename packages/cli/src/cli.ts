import { isConveyorError, maskUrlsIn, type ValidationIssue } from "@conveyor/core";
import { Command, CommanderError, Option } from "commander";
import manifest from "../package.json" with { type: "json" };
import { registerControl } from "./commands/control.js";
import { registerConvert } from "./commands/convert.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerEnqueue, registerRun } from "./commands/enqueue.js";
import { registerInspect } from "./commands/inspect.js";
import { registerJobCommands } from "./commands/jobs.js";
import { registerSchedule } from "./commands/schedule.js";
import { registerServe } from "./commands/serve.js";
import { registerTranscribe } from "./commands/transcribe.js";
import { registerTranslate } from "./commands/translate.js";
import type { ActionFactory, CommandRun } from "./commands/types.js";
import { registerWorker } from "./commands/worker.js";
import { CommandContext, type GlobalOptions } from "./context.js";
import { EXIT_CODES, exitCodeFor } from "./errors.js";
import type { CliIo } from "./io.js";
import { registerMemoryAdapter } from "./memory.js";

interface RunState {
  io: CliIo;
  /** The arguments of the current run (a supervised `conveyor worker` passes them to its child). */
  argv: readonly string[];
  ctx: CommandContext | undefined;
  exitCode: number;
}

const states = new WeakMap<Command, RunState>();

/**
 * Builds the `conveyor` command (commander) without running it. Add your own commands to it,
 * then run it with {@link runCli} (`{ program }`), which maps errors to exit codes.
 *
 * @example
 * ```ts
 * import { createCli, runCli } from "@conveyor/cli";
 *
 * const program = createCli();
 * program.command("hello").action(() => console.log("hello"));
 * process.exitCode = await runCli(process.argv.slice(2), { program });
 * ```
 */
export function createCli(io: CliIo = {}): Command {
  const state: RunState = { io, argv: [], ctx: undefined, exitCode: EXIT_CODES.ok };
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;

  const action: ActionFactory =
    <F>(run: CommandRun<F>) =>
    async (...args: any[]) => {
      const command = args[args.length - 1] as Command;
      const flags = command.opts() as F;
      const positional = args.slice(0, -2) as string[];
      const ctx = new CommandContext(command.optsWithGlobals<GlobalOptions>(), state.io, state.argv);
      state.ctx = ctx;
      state.exitCode = await run(ctx, flags, ...positional);
    };

  const program = new Command("conveyor")
    .description(
      "Conveyor: background jobs for TypeScript. Run workers, enqueue jobs, wait for results, inspect queues.",
    )
    .version(manifest.version, "-v, --version")
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      getOutHelpWidth: () => stdout.columns ?? 100,
      getErrHelpWidth: () => stderr.columns ?? 100,
      outputError: (text, write) => write(maskUrlsIn(text.replace(/^error: /, "[conveyor:cli] "))),
    })
    .exitOverride()
    .showHelpAfterError("(run conveyor --help, or conveyor <command> --help, for usage)")
    .option("--config <file>", "config file (default: conveyor.config.{ts,mts,js,mjs} in the working folder)")
    .option(
      "--url <url>",
      "one backend URL for queue, cache and rate limiter (beats CONVEYOR_* env and the config file)",
    )
    .option("--queue-url <url>", "queue backend URL (beats --url)")
    .option("--cache-url <url>", "cache backend URL; a comma list makes tiers (beats --url)")
    .option("--rate-limit-url <url>", "rate-limiter backend URL (beats --url)")
    .addOption(new Option("--json", "print JSON documents on stdout, for scripts"))
    .addOption(new Option("-q, --quiet", "print only results, warnings and errors"))
    .addHelpText(
      "after",
      [
        "",
        "Backends: defaults (memory://) → config file → env (CONVEYOR_URL, CONVEYOR_QUEUE_URL, CONVEYOR_CACHE_URL,",
        "CONVEYOR_RATE_LIMIT_URL) → flags; later wins. memory:// is in-process: use `conveyor run` with it.",
        "",
        "Exit codes: 0 ok, 1 job failed or cancelled (or a confirmation declined), 2 usage/validation/config",
        "error, 3 backend error, 69 no worker answered (ping, control), 75 a supervised worker process recycled,",
        "124 the wait ended before the job finished.",
      ].join("\n"),
    );

  registerWorker(program, action);
  registerEnqueue(program, action);
  registerRun(program, action);
  registerJobCommands(program, action);
  registerInspect(program, action);
  registerControl(program, action);
  registerSchedule(program, action);
  registerServe(program, action);
  registerConvert(program, action);
  registerTranslate(program, action);
  registerTranscribe(program, action);
  registerDoctor(program, action);
  states.set(program, state);
  return program;
}

/**
 * Options of {@link runCli}: the IO to run against, or a program built by {@link createCli}.
 *
 * @example
 * ```ts
 * import { type RunCliOptions, runCli } from "@conveyor/cli";
 *
 * const options: RunCliOptions = { cwd: "./examples/word-count", env: { ...process.env, CONVEYOR_URL: "memory://" } };
 * process.exitCode = await runCli(["inspect", "registered"], options);
 * ```
 */
export interface RunCliOptions extends CliIo {
  /** A program from {@link createCli} (with commands of your own); its own IO is used. */
  program?: Command;
}

function report(state: RunState, error: unknown): number {
  const code = exitCodeFor(error);
  const out = state.ctx?.out;
  const stderr = state.io.stderr ?? process.stderr;
  const conveyorError = isConveyorError(error);
  const message = conveyorError
    ? error.message
    : `[conveyor:cli] unexpected error: ${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? String(error)}. Set CONVEYOR_DEBUG=1 to print its stack.`;
  const lines = [message];
  const issues = conveyorError ? (error.details.issues as ValidationIssue[] | undefined) : undefined;
  if (issues?.length)
    for (const issue of issues) lines.push(`  - ${issue.path || "(root)"}: ${issue.message}`);
  const env = state.io.env ?? process.env;
  if (env.CONVEYOR_DEBUG && error instanceof Error && error.stack) lines.push(error.stack);
  stderr.write(`${maskUrlsIn(lines.join("\n"))}\n`);

  if (out?.flags.json && !out.wroteStdout) {
    const document = {
      error: {
        code: conveyorError ? error.code : "UNEXPECTED",
        name: (error as Error)?.name ?? "Error",
        message: maskUrlsIn(message),
        ...(issues ? { issues } : {}),
        ...(conveyorError && error.details.error ? { jobError: error.details.error } : {}),
      },
      ...(state.ctx?.job ? { job: state.ctx.job } : {}),
      exitCode: code,
    };
    out.json(document);
  }
  return code;
}

/**
 * Runs the `conveyor` command line and resolves with its exit code (it never calls
 * `process.exit`). Errors are printed without a stack, URL passwords masked: Conveyor errors by
 * their message (which says what to do), with validation issues listed one per line.
 *
 * @example
 * ```ts
 * import { runCli } from "@conveyor/cli";
 *
 * const code = await runCli(["run", "files.wordCount", "--input", '{"dir":"."}', "--json"]);
 * process.exitCode = code;
 * ```
 */
export async function runCli(
  argv: readonly string[] = process.argv.slice(2),
  options: RunCliOptions = {},
): Promise<number> {
  registerMemoryAdapter();
  const { program: given, ...io } = options;
  const program = given ?? createCli(io);
  const state = states.get(program) ?? { io, argv: [], ctx: undefined, exitCode: EXIT_CODES.ok };
  state.argv = [...argv];
  state.ctx = undefined;
  state.exitCode = EXIT_CODES.ok;
  try {
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version"
        ? EXIT_CODES.ok
        : EXIT_CODES.usage;
    }
    return report(state, error);
  }
}
