import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, definePlugin, defineResource, type Plugin } from "@conveyor/core";
import type { SttEngine, SttEngineFactory } from "./engine.js";
import { pocketsphinx } from "./pocketsphinx.js";
import { transcribeTasks } from "./transcribe.js";

/**
 * Options of {@link stt}. Defaults are applied once, when the plugin is created.
 *
 * @example
 * ```ts
 * import { pocketsphinx, type SttOptions } from "@conveyor/plugin-stt";
 * const options: SttOptions = { engine: pocketsphinx(), roots: ["./audio"], maxInputBytes: 500 * 2 ** 20 };
 * ```
 */
export interface SttOptions {
  /** The speech engine. @defaultValue `pocketsphinx()` */
  engine?: SttEngineFactory;
  /**
   * Folders every input and output path must be in (after `..` and symlinks are resolved);
   * relative paths resolve against the first one.
   * @defaultValue `[process.cwd()]`
   */
  roots?: string[];
  /** Largest input accepted, file or download, in bytes. @defaultValue no limit */
  maxInputBytes?: number;
  /**
   * Hosts an `http(s)` audio URL may point to (exact host names, e.g. `"media.example.com"`);
   * `[]` refuses URLs, so workers never fetch what a job names.
   * @defaultValue any host
   */
  urlHosts?: string[];
  /**
   * Folder for decoded audio while a job runs (removed when it ends). Chunk jobs read it, so
   * workers on other machines need it shared (the same path on a network file system).
   * @defaultValue `<os tmpdir>/conveyor-stt`
   */
  workDir?: string;
  /** Chunks transcribed at once inside one job when they do not go to child jobs. @defaultValue 2 */
  concurrency?: number;
  /**
   * Send the chunks of long audio to `stt.transcribeChunk` child jobs (through `ctx.conveyor`, on
   * the parent's queue), so every free worker slot helps; `false` transcribes them inside the
   * job, `concurrency` at a time.
   * @defaultValue true
   */
  childJobs?: boolean;
}

/**
 * The speech-to-text plugin: registers `stt.transcribe` (audio file or URL → text, language,
 * duration and timed segments; optionally written as txt, json, srt or vtt) and its child task
 * `stt.transcribeChunk`, with the engine as a worker resource named `stt.engine.<engine>`: loaded
 * once per worker process, shared by concurrent jobs, never loaded where jobs are only enqueued.
 * Depends on `@conveyor/core` only; runs on any adapter.
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { pocketsphinx, stt, type TranscribeResult } from "@conveyor/plugin-stt";
 *
 * const plugin = stt({ engine: pocketsphinx(), roots: ["./audio"] });
 * const conveyor = await createConveyor({ plugins: [plugin], logger: false });
 * const worker = conveyor.worker({ concurrency: 2 });
 * const job = await conveyor.enqueue<TranscribeResult>("stt.transcribe", { audio: "talk.wav", output: "talk.srt" });
 * console.log((await job.result()).text);
 * await worker.close();
 * await conveyor.close();
 * ```
 */
export function stt(options: SttOptions = {}): Plugin {
  const engine = options.engine ?? pocketsphinx();
  if (!/^[a-z0-9-]+$/.test(engine.name)) {
    throw new ConfigError(
      `stt engine name "${engine.name}" is invalid. Use lower-case letters, digits and "-".`,
    );
  }
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError(`stt({ concurrency }) must be a whole number of at least 1, got ${concurrency}.`);
  }
  const resource = defineResource<SttEngine>({
    name: `stt.engine.${engine.name}`,
    load: (context) => engine.load(context),
    dispose: (loaded) => loaded.close?.(),
  });
  const tasks = transcribeTasks({
    engine,
    resource,
    roots: (options.roots?.length ? options.roots : [process.cwd()]).map((root) => resolve(root)),
    workDir: resolve(options.workDir ?? join(tmpdir(), "conveyor-stt")),
    maxInputBytes: options.maxInputBytes,
    urlHosts: options.urlHosts,
    concurrency,
    childJobs: options.childJobs ?? true,
  });
  return definePlugin({ name: "stt", tasks, resources: [resource] });
}
