import { ConveyorError, type ConveyorErrorOptions } from "@conveyor/core";

/**
 * A translation engine failed: a process that exited or stalled, an HTTP error, an empty or
 * malformed answer. `retryable` says whether trying again may succeed (a restarted pipeline, a
 * 429 or 5xx); `details` carries the engine name and, for HTTP engines, the status.
 *
 * @example
 * ```ts
 * import { TranslationEngineError } from "@conveyor/plugin-translation";
 *
 * const error = new TranslationEngineError("deepl", "HTTP 456: quota exceeded. Upgrade the plan or wait for the next period", { retryable: false });
 * console.log(error.code, error.details.engine); // "TRANSLATION_ENGINE" "deepl"
 * ```
 */
export class TranslationEngineError extends ConveyorError {
  override name = "TranslationEngineError" as const;
  constructor(engine: string, message: string, options: ConveyorErrorOptions = {}) {
    super("TRANSLATION_ENGINE", `the ${engine} engine failed: ${message}.`, {
      scope: "translation",
      retryable: true,
      ...options,
      details: { ...options.details, engine },
    });
  }
}

/**
 * An engine cannot translate between two languages. `details.available` lists the pairs it can.
 *
 * @example
 * ```ts
 * import { UnsupportedLanguageError } from "@conveyor/plugin-translation";
 *
 * const error = new UnsupportedLanguageError("apertium", "en", "de", [{ from: "en", to: "es" }], "apt-get install apertium-<pair>");
 * console.log(error.details.available); // [{ from: "en", to: "es" }]
 * ```
 */
export class UnsupportedLanguageError extends ConveyorError {
  override name = "UnsupportedLanguageError" as const;
  constructor(
    engine: string,
    from: string,
    to: string,
    available: readonly { from: string; to: string }[],
    hint: string,
    options: ConveyorErrorOptions = {},
  ) {
    const list = available.length
      ? available.map((pair) => `${pair.from}→${pair.to}`).join(", ")
      : "none installed";
    super(
      "UNSUPPORTED_LANGUAGE",
      `the ${engine} engine cannot translate ${from}→${to} (available: ${list}). ${hint}.`,
      {
        scope: "translation",
        ...options,
        retryable: false,
        details: { ...options.details, engine, from, to, available },
      },
    );
  }
}

/**
 * An engine's program or data is missing on this machine (Apertium not installed), or an HTTP
 * engine has no API key or URL. Says what to install or set.
 *
 * @example
 * ```ts
 * import { EngineUnavailableError } from "@conveyor/plugin-translation";
 *
 * const error = new EngineUnavailableError("apertium", "apertium-wblank-mode is not on PATH. Install it: apt-get install apertium-eng-spa");
 * console.log(error.code); // "ENGINE_UNAVAILABLE"
 * ```
 */
export class EngineUnavailableError extends ConveyorError {
  override name = "EngineUnavailableError" as const;
  constructor(engine: string, message: string, options: ConveyorErrorOptions = {}) {
    super("ENGINE_UNAVAILABLE", `the ${engine} engine is unavailable: ${message}.`, {
      scope: "translation",
      ...options,
      retryable: false,
      details: { ...options.details, engine },
    });
  }
}

/**
 * A file given to `translation.translateFile` cannot be read as its format: an unterminated
 * quote, malformed JSON, a column or field that does not exist. `details.line` names the line
 * (1-based) where the engine could tell.
 *
 * @example
 * ```ts
 * import { TranslationFileError } from "@conveyor/plugin-translation";
 *
 * const error = new TranslationFileError("reviews.csv", "unterminated quoted field", { line: 12 });
 * console.log(error.details.line); // 12
 * ```
 */
export class TranslationFileError extends ConveyorError {
  override name = "TranslationFileError" as const;
  constructor(
    path: string,
    message: string,
    details: Record<string, unknown> = {},
    options: ConveyorErrorOptions = {},
  ) {
    const where = typeof details.line === "number" ? ` at line ${details.line}` : "";
    super(
      "TRANSLATION_FILE",
      `cannot translate "${path}"${where}: ${message}. Fix the file or the job's options.`,
      {
        scope: "translation",
        ...options,
        retryable: false,
        details: { ...options.details, ...details, path },
      },
    );
  }
}
