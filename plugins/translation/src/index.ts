// PathNotAllowedError comes from core (shared by every plugin's path checks); re-exported for catch blocks.
export { PathNotAllowedError } from "@conveyor/core";
export type { ApertiumDefinition, ApertiumEngine, ApertiumOptions } from "./apertium.js";
export { apertium } from "./apertium.js";
export type { CacheCounts } from "./cache.js";
export { normalizeText, translationCacheKey } from "./cache.js";
export type { DeepLOptions } from "./deepl.js";
export { deepl } from "./deepl.js";
export type {
  DefineEngineOptions,
  EngineDefinition,
  LanguagePair,
  TranslateOptions,
  TranslationEngine,
} from "./engine.js";
export { defineEngine } from "./engine.js";
export {
  EngineUnavailableError,
  TranslationEngineError,
  TranslationFileError,
  UnsupportedLanguageError,
} from "./errors.js";
export type { FileFormat } from "./formats.js";
export { FILE_FORMATS } from "./formats.js";
export type { HttpEngineOptions, HttpRateLimit } from "./http.js";
export type { LibreTranslateOptions } from "./libretranslate.js";
export { libreTranslate } from "./libretranslate.js";
export type { OpenAiChatOptions } from "./openai.js";
export { openAiChat } from "./openai.js";
export type { TranslationOptions } from "./plugin.js";
export { translation } from "./plugin.js";
export type {
  TranslateBatchInput,
  TranslateBatchResult,
  TranslateFileInput,
  TranslateFileResult,
  TranslateInput,
  TranslateResult,
} from "./tasks.js";
