export type { ChunkPlanOptions, DecodeOptions, Span, WavInfo } from "./audio.js";
export { decodeAudio, frameLevels, planChunks, readWavInfo } from "./audio.js";
export type {
  EngineAudio,
  EngineRequest,
  EngineResult,
  SttEngine,
  SttEngineFactory,
  TranscriptSegment,
} from "./engine.js";
export { wordsToSegments } from "./engine.js";
export { AudioDecodeError, EngineNotInstalledError, GrammarError, SttEngineError } from "./errors.js";
export type { Transcript, TranscriptFormat } from "./formats.js";
export { formatTranscript, TRANSCRIPT_FORMATS, transcriptFormatOf } from "./formats.js";
export type { GoogleSpeechOptions } from "./google.js";
export { googleSpeech } from "./google.js";
export type { HttpEngineOptions } from "./http.js";
export type { OpenAiTranscriptionOptions } from "./openai.js";
export { openAiTranscription } from "./openai.js";
export type { SttOptions } from "./plugin.js";
export { stt } from "./plugin.js";
export type { PocketSphinxOptions } from "./pocketsphinx.js";
export { phrasesToJsgf, pocketsphinx } from "./pocketsphinx.js";
export type { TranscribeInputType, TranscribeResult, TranscribeTaskOptions } from "./transcribe.js";
export { CHUNK_TASK, TranscribeInput, transcribeTasks } from "./transcribe.js";
