import { type Command, InvalidArgumentError } from "commander";
import type { CommandContext } from "../context.js";
import { commaItems, type PluginJobFlags, pluginJobOptions, runPluginJob } from "./plugin-job.js";
import type { ActionFactory } from "./types.js";

/** The task `conveyor convert` enqueues, registered by `@conveyor/plugin-data-conversion`. */
const TASK = "dataConversion.convert";

interface ConvertFlags extends PluginJobFlags {
  from?: string;
  to?: string;
  columns?: string[];
  delimiter?: string;
  header?: boolean;
  compression?: string;
  onError?: string;
}

function columnList(value: string): string[] {
  const items = commaItems(value);
  if (items.length === 0)
    throw new InvalidArgumentError("must name at least one column, e.g. --columns id,name.");
  return items;
}

function convert(ctx: CommandContext, flags: ConvertFlags, input: string, output: string): Promise<number> {
  return runPluginJob(ctx, flags, {
    task: TASK,
    input: () => {
      const options = {
        ...(flags.columns ? { columns: flags.columns } : {}),
        ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
        ...(flags.header === false ? { header: false } : {}),
        ...(flags.compression !== undefined ? { compression: flags.compression } : {}),
        ...(flags.onError !== undefined ? { onError: flags.onError } : {}),
      };
      return {
        input,
        output,
        ...(flags.from !== undefined ? { from: flags.from } : {}),
        ...(flags.to !== undefined ? { to: flags.to } : {}),
        ...(Object.keys(options).length ? { options } : {}),
      };
    },
    needsPlugin:
      "conveyor convert needs the data-conversion plugin. Install @conveyor/plugin-data-conversion and register it in conveyor.config.ts: plugins: [dataConversion()].",
    describe: `${input} → ${output}`,
    work: "conversion",
  });
}

/**
 * `conveyor convert <in> <out>`: enqueues `dataConversion.convert` (from
 * `@conveyor/plugin-data-conversion`, registered in the config) and waits for it with progress in
 * rows; on an in-process backend (memory://) the CLI runs the job itself.
 */
export function registerConvert(program: Command, action: ActionFactory): void {
  const command = program
    .command("convert")
    .description(
      "convert a CSV, TSV, JSON, NDJSON or Parquet file (needs @conveyor/plugin-data-conversion in the config)",
    )
    .argument("<input>", "file to read; format from its extension unless --from")
    .argument("<output>", "file to write; format from its extension unless --to")
    .option("--from <format>", "input format: csv, tsv, json, ndjson or parquet")
    .option("--to <format>", "output format: csv, tsv, json, ndjson or parquet")
    .option("--columns <list>", "only these columns, in this order, e.g. id,name", columnList)
    .option("--delimiter <char>", "CSV delimiter (default: detected on read, ',' on write)")
    .option("--no-header", "CSV/TSV files have no header line")
    .option("--compression <codec>", "Parquet codec: snappy, zstd, gzip, lz4, brotli or uncompressed")
    .option("--on-error <mode>", "bad CSV rows: fail (default) or skip");
  pluginJobOptions(command, "converts it")
    .addHelpText(
      "after",
      "\nExamples:\n  $ conveyor convert orders.csv orders.parquet --compression zstd\n  $ conveyor convert events.parquet events.ndjson --columns id,type --no-wait --url redis://localhost:6379",
    )
    .action(action<ConvertFlags>((ctx, flags, input, output) => convert(ctx, flags, input!, output!)));
}
