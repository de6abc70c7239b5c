export { createCli, type RunCliOptions, runCli } from "./cli.js";
export { type BackendFlags, CommandContext, type GlobalOptions, resolveCliBackends } from "./context.js";
export { EXIT_CODES, exitCodeFor, NoWorkersError, UsageError } from "./errors.js";
export { type CliInput, type CliIo, type CliStream, Output, type OutputFlags, renderTable } from "./io.js";
export { registerMemoryAdapter } from "./memory.js";
export {
  createProgressDisplay,
  type ProgressBarOptions,
  type ProgressDisplay,
  type ProgressDisplayOptions,
  renderProgressBar,
} from "./progress.js";
