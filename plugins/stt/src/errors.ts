import { ConveyorError, type ConveyorErrorOptions } from "@conveyor/core";

/**
 * The audio could not be read or decoded: an unknown container, a codec the machine's decoder
 * (sox, or ffmpeg when present) lacks, a damaged file, or no audio at all. Not retryable: the same
 * file fails the same way.
 *
 * @example
 * ```ts
 * import { AudioDecodeError } from "@conveyor/plugin-stt";
 *
 * const error = new AudioDecodeError("talk.mp3", "sox has no MP3 support. Install it with apt-get install libsox-fmt-mp3");
 * console.log(error.code); // "AUDIO_DECODE"
 * ```
 */
export class AudioDecodeError extends ConveyorError {
  override name = "AudioDecodeError" as const;
  constructor(path: string, why: string, options: ConveyorErrorOptions = {}) {
    super("AUDIO_DECODE", `cannot decode the audio "${path}": ${why.trim().replace(/\.?$/, ".")}`, {
      scope: "stt",
      ...options,
      retryable: false,
      details: { ...options.details, path },
    });
  }
}

/**
 * A program or module the engine needs is missing on this machine (PocketSphinx, its Python
 * module, sox). The message names the `apt-get install` line that fixes it.
 *
 * @example
 * ```ts
 * import { EngineNotInstalledError } from "@conveyor/plugin-stt";
 *
 * const error = new EngineNotInstalledError("sox", "apt-get install sox");
 * console.log(error.message); // "[conveyor:stt] sox is not installed on this machine. Install it: apt-get install sox."
 * ```
 */
export class EngineNotInstalledError extends ConveyorError {
  override name = "EngineNotInstalledError" as const;
  constructor(what: string, install: string, options: ConveyorErrorOptions = {}) {
    super("ENGINE_NOT_INSTALLED", `${what} is not installed on this machine. Install it: ${install}.`, {
      scope: "stt",
      ...options,
      retryable: false,
      details: { ...options.details, what, install },
    });
  }
}

/**
 * The speech engine failed: a PocketSphinx decoder that died or answered with an error, or an
 * HTTP engine that answered with an error status or a body of the wrong shape. `retryable` is
 * true for what may pass on a later attempt (a 429 or 5xx, a timeout, a crashed decoder).
 *
 * @example
 * ```ts
 * import { SttEngineError } from "@conveyor/plugin-stt";
 *
 * const error = new SttEngineError("openai", "HTTP 503 from http://localhost:8000/v1/audio/transcriptions", { retryable: true, details: { status: 503 } });
 * console.log(error.retryable, error.details.status); // true 503
 * ```
 */
export class SttEngineError extends ConveyorError {
  override name = "SttEngineError" as const;
  constructor(engine: string, why: string, options: ConveyorErrorOptions = {}) {
    super("STT_ENGINE", `the ${engine} engine failed: ${why.trim().replace(/\.?$/, ".")}`, {
      scope: "stt",
      ...options,
      details: { ...options.details, engine },
    });
  }
}

/**
 * A phrase list cannot be used for grammar-constrained decoding: a word the engine's pronunciation
 * dictionary does not know (listed in `details.unknownWords`), or no words at all.
 *
 * @example
 * ```ts
 * import { GrammarError } from "@conveyor/plugin-stt";
 *
 * const error = new GrammarError("pocketsphinx", ["xyzzy"]);
 * console.log(error.details.unknownWords); // ["xyzzy"]
 * ```
 */
export class GrammarError extends ConveyorError {
  override name = "GrammarError" as const;
  constructor(engine: string, unknownWords: readonly string[], options: ConveyorErrorOptions = {}) {
    super(
      "STT_GRAMMAR",
      unknownWords.length
        ? `the phrase list has words the ${engine} dictionary does not know: ${unknownWords.join(", ")}. Spell numbers and symbols as words, or remove those phrases.`
        : "the phrase list has no words. Give at least one phrase, or leave phrases out for open-vocabulary decoding.",
      { scope: "stt", ...options, retryable: false, details: { ...options.details, engine, unknownWords } },
    );
  }
}
