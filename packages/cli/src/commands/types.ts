import type { CommandContext } from "../context.js";

/** A command's work: gets the context, its own flags and its positional arguments; returns the exit code. */
export type CommandRun<F> = (ctx: CommandContext, flags: F, ...args: string[]) => Promise<number>;

/** Wraps a {@link CommandRun} as a commander action that records the exit code. */
export type ActionFactory = <F>(run: CommandRun<F>) => (...args: any[]) => Promise<void>;
