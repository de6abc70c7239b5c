import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { wholeNumber } from "../options.js";
import { commaItems, type PluginJobFlags, pluginJobOptions, runPluginJob } from "./plugin-job.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor translate` enqueues, registered by `@conveyor/plugin-translation`. */
const TASK = "translation.translateFile";

interface TranslateFlags extends PluginJobFlags {
  column: string[];
  from: string;
  to: string;
  engine?: string;
  format?: string;
  delimiter?: string;
  header?: boolean;
  suffix?: string;
  chunkSize?: number;
}

/** `--column a --column b,c` → `["a", "b", "c"]`. */
function collectColumns(value: string, previous: string[] = []): string[] {
  const items = commaItems(value);
  if (items.length === 0) {
    throw new InvalidArgumentError(
      "must name a column (CSV/TSV) or a field path (JSON/NDJSON), e.g. --column text.",
    );
  }
  return [...previous, ...items];
}

function translate(
  ctx: CommandContext,
  flags: TranslateFlags,
  input: string,
  output: string,
): Promise<number> {
  return runPluginJob(ctx, flags, {
    task: TASK,
    input: () => ({
      input,
      output,
      columns: flags.column,
      from: flags.from,
      to: flags.to,
      ...(flags.engine !== undefined ? { engine: flags.engine } : {}),
      ...(flags.format !== undefined ? { format: flags.format } : {}),
      ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
      ...(flags.header === false ? { header: false } : {}),
      ...(flags.suffix !== undefined ? { suffix: flags.suffix } : {}),
      ...(flags.chunkSize !== undefined ? { chunkSize: flags.chunkSize } : {}),
    }),
    needsPlugin:
      "conveyor translate needs the translation plugin. Install @conveyor/plugin-translation and register it in conveyor.config.ts: plugins: [translation()].",
    describe: `${input} → ${output}, ${flags.from}→${flags.to}`,
    work: "translation",
    hintFollowUp: true,
  });
}

/**
 * `conveyor translate <in> <out> --column text --from en --to es`: enqueues
 * `translation.translateFile` (from `@conveyor/plugin-translation`, registered in the config) and
 * waits for it with progress in rows; `--no-wait` prints the job id for `conveyor status` and
 * `conveyor result`. On an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerTranslate(program: Command, action: ActionFactory): void {
  const command = program
    .command("translate")
    .description(
      "translate columns of a CSV/TSV file or fields of a JSON/NDJSON file (needs @conveyor/plugin-translation in the config)",
    )
    .argument("<input>", "file to read: .csv, .tsv, .json (an array) or .ndjson/.jsonl")
    .argument("<output>", "file to write, same format; the other columns and fields are kept as they are")
    .requiredOption(
      "--column <names>",
      "column(s) to translate (JSON: field paths like review.text or items.*.text); repeat or comma-separate",
      collectColumns,
    )
    .requiredOption("--from <lang>", "source language, e.g. en")
    .requiredOption("--to <lang>", "target language, e.g. es")
    .option("--engine <name>", "engine registered with the plugin (default: the plugin's first, apertium)")
    .option("--format <format>", "csv, tsv, json or ndjson (default: from the input's extension)")
    .option("--delimiter <char>", "CSV delimiter (default ',', TSV: tab)")
    .option("--no-header", "CSV/TSV files have no header line; --column takes 1-based positions")
    .option("--suffix <text>", "keep the originals and write translations to <column><suffix>, e.g. _es")
    .option(
      "--chunk-size <rows>",
      "rows per step (read, translate, write, progress)",
      wholeNumber("a row count", 1),
    );
  pluginJobOptions(command, "translates it")
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor translate reviews.csv reviews.es.csv --column text --from en --to es\n  $ conveyor translate events.ndjson events.es.ndjson --column title,body.text --from en --to es --suffix _es\n  $ conveyor translate big.csv big.es.csv --column text --from en --to es --no-wait --url redis://localhost:6379\n    then: conveyor status <id> · conveyor result <id> --wait",
    )
    .action(action<TranslateFlags>((ctx, flags, input, output) => translate(ctx, flags, input!, output!)));
}
