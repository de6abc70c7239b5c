// Re-exported from core, where every plugin's path confinement lives, so existing imports keep working.
export { PathNotAllowedError } from "@conveyor/core";
export type { ConvertInputType, ConvertResult, ConvertTaskOptions } from "./convert.js";
export { ConvertInput, convertTask } from "./convert.js";
export type { DuckDbOptions } from "./engine.js";
export { duckDbResource } from "./engine.js";
export { ConversionError, UnsupportedFormatError } from "./errors.js";
export type { Format } from "./formats.js";
export { FORMATS, formatOf, PARQUET_COMPRESSIONS } from "./formats.js";
export type { DataConversionOptions } from "./plugin.js";
export { dataConversion } from "./plugin.js";
