import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { Logger } from "@conveyor/core";
import type { EngineAudio, EngineRequest, EngineResult, SttEngine, SttEngineFactory } from "./engine.js";
import { wordsToSegments } from "./engine.js";
import { EngineNotInstalledError, GrammarError, SttEngineError } from "./errors.js";

const MODEL = "/usr/share/pocketsphinx/model/en-us";
const INSTALL = "apt-get install python3-pocketsphinx pocketsphinx-en-us";

/**
 * Options of {@link pocketsphinx}. Defaults are Debian's `pocketsphinx-en-us` model.
 *
 * @example
 * ```ts
 * import type { PocketSphinxOptions } from "@conveyor/plugin-stt";
 * const options: PocketSphinxOptions = { decoders: 2, pauseMs: 500 };
 * ```
 */
export interface PocketSphinxOptions {
  /** Acoustic model folder. @defaultValue `"/usr/share/pocketsphinx/model/en-us/en-us"` */
  hmm?: string;
  /** Language model (n-gram, `.lm.bin` or ARPA). @defaultValue `"/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"` */
  lm?: string;
  /** Pronunciation dictionary. @defaultValue `"/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"` */
  dict?: string;
  /** The language of the model, reported in results. @defaultValue `"en-US"` */
  language?: string;
  /**
   * Decoder processes per worker, each holding the model (~120 MB resident) and decoding one span at a
   * time; started on demand when every running one is busy.
   * @defaultValue 1
   */
  decoders?: number;
  /** Python 3 with Debian's `python3-pocketsphinx`. @defaultValue `/usr/bin/python3` when present, else `python3` */
  python?: string;
  /** A pause this long starts a new segment, in ms. @defaultValue 400 */
  pauseMs?: number;
  /** Longest span sent to the decoder, in ms; longer audio is split on silence. @defaultValue 30000 */
  maxChunkMs?: number;
  /** Longest wait for one span to be decoded, in ms. @defaultValue 300000 */
  timeoutMs?: number;
}

// The decoder server: loads the model once, then decodes spans of a WAV file named by path,
// one JSON request per line on stdin, one JSON answer per line on stdout. The file is read by
// path because a pipe from Node is a socket, which PocketSphinx's own file reader rejects.
const SERVER = String.raw`
import hashlib, json, sys, time
try:
    from pocketsphinx import pocketsphinx as ps
except ImportError as error:
    sys.stdout.write(json.dumps({"fatal": "import", "message": str(error)}) + "\n"); sys.stdout.flush(); sys.exit(3)
args = json.loads(sys.argv[1])
started = time.time()
config = ps.Decoder.default_config()
for key in ("hmm", "lm", "dict"):
    config.set_string("-" + key, args[key])
config.set_string("-logfn", "/dev/null")
# Digital silence (synthesised speech, padded audio) has no energy to take a log of, which can
# keep a grammar search from reaching its final state; dither with a fixed seed stays reproducible.
config.set_boolean("-dither", True)
config.set_int("-seed", 1)
try:
    decoder = ps.Decoder(config)
except Exception as error:
    sys.stdout.write(json.dumps({"fatal": "load", "message": str(error)}) + "\n"); sys.stdout.flush(); sys.exit(4)
logmath = decoder.get_logmath()
default_search = decoder.get_search()
frame_ms = 1000.0 / config.get_int("-frate")
grammars = set()
def send(value):
    sys.stdout.write(json.dumps(value) + "\n"); sys.stdout.flush()
send({"ready": True, "loadMs": round((time.time() - started) * 1000)})
for line in sys.stdin:
    request = json.loads(line)
    rid = request["id"]
    try:
        grammar = request.get("grammar")
        if grammar:
            name = "g" + hashlib.sha1(grammar["jsgf"].encode()).hexdigest()[:16]
            if name not in grammars:
                unknown = [w for w in grammar["words"] if decoder.lookup_word(w) is None]
                if unknown:
                    send({"id": rid, "error": "grammar", "unknown": unknown}); continue
                decoder.set_jsgf_string(name, grammar["jsgf"])
                grammars.add(name)
            decoder.set_search(name)
        else:
            decoder.set_search(default_search)
        with open(request["path"], "rb") as audio:
            audio.seek(request["offset"])
            samples = audio.read(request["length"])
        decoder.start_utt()
        decoder.process_raw(samples, False, True)
        decoder.end_utt()
        words = []
        if decoder.hyp() is not None:
            for seg in decoder.seg():
                words.append([seg.word, seg.start_frame * frame_ms, (seg.end_frame + 1) * frame_ms, logmath.exp(seg.prob)])
        send({"id": rid, "words": words})
    except Exception as error:
        send({"id": rid, "error": "decode", "message": str(error)})
`;

interface Pending {
  resolve(value: DecoderAnswer): void;
  reject(error: unknown): void;
}

interface DecoderAnswer {
  id: number;
  words?: [string, number, number, number][];
  error?: "grammar" | "decode";
  unknown?: string[];
  message?: string;
}

/** One Python process holding one loaded model. */
class Decoder {
  private readonly pending = new Map<number, Pending>();
  private buffer = "";
  private stderr = "";
  exited = false;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  get busy(): number {
    return this.pending.size;
  }

  static start(
    python: string,
    options: Required<Pick<PocketSphinxOptions, "hmm" | "lm" | "dict">>,
    log: Logger,
  ): Promise<Decoder> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(python, ["-c", SERVER, JSON.stringify(options)], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      const decoder = new Decoder(child);
      let ready = false;
      child.on("error", (error) => {
        decoder.exited = true;
        if (!ready)
          reject(
            new EngineNotInstalledError(`Python (${python})`, "apt-get install python3", { cause: error }),
          );
      });
      child.stderr.on("data", (chunk: Buffer) => {
        if (decoder.stderr.length < 16_384) decoder.stderr += chunk.toString("utf8");
      });
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (text: string) => {
        decoder.buffer += text;
        for (let end = decoder.buffer.indexOf("\n"); end !== -1; end = decoder.buffer.indexOf("\n")) {
          const line = decoder.buffer.slice(0, end);
          decoder.buffer = decoder.buffer.slice(end + 1);
          if (!line.trim()) continue;
          let message: DecoderAnswer & { ready?: boolean; loadMs?: number; fatal?: string };
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          if (message.fatal) {
            reject(
              message.fatal === "import"
                ? new EngineNotInstalledError("the PocketSphinx Python module", INSTALL, {
                    details: { message: message.message },
                  })
                : new SttEngineError(
                    "pocketsphinx",
                    `the model did not load (${message.message}). Check the hmm, lm and dict paths`,
                    { details: { ...options } },
                  ),
            );
          } else if (message.ready) {
            ready = true;
            log.info("pocketsphinx model loaded", {
              loadMs: message.loadMs,
              startMs: Math.round(performance.now() - started),
            });
            resolve(decoder);
          } else {
            const waiter = decoder.pending.get(message.id);
            decoder.pending.delete(message.id);
            waiter?.resolve(message);
          }
        }
      });
      child.on("close", (code) => {
        decoder.exited = true;
        const why = `the decoder process exited with code ${code}${decoder.stderr ? `: ${decoder.stderr.trim().split("\n").slice(-3).join(" ")}` : ""}`;
        if (!ready) reject(new SttEngineError("pocketsphinx", why, { retryable: false }));
        for (const waiter of decoder.pending.values())
          waiter.reject(new SttEngineError("pocketsphinx", why, { retryable: true }));
        decoder.pending.clear();
      });
    });
  }

  request(
    body: Record<string, unknown>,
    id: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<DecoderAnswer> {
    return new Promise((resolve, reject) => {
      // A listener added to a signal that has already fired never runs: check first.
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      if (this.exited) {
        reject(new SttEngineError("pocketsphinx", "the decoder process has exited", { retryable: true }));
        return;
      }
      // An aborted job stops waiting; the decoder finishes the span and its answer is dropped.
      const stop = (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pending.delete(id);
        reject(error);
      };
      const onAbort = () => stop(signal.reason);
      const timer = setTimeout(
        () =>
          stop(new SttEngineError("pocketsphinx", `no answer within ${timeoutMs} ms`, { retryable: true })),
        timeoutMs,
      );
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        reject: stop,
      });
      this.child.stdin.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  close(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("close", () => resolve());
      this.child.stdin.end();
      setTimeout(() => this.child.kill("SIGKILL"), 2_000).unref();
    });
  }
}

/** Words of a phrase as the dictionary spells them: lower case, letters, digits and apostrophes. */
export function phraseWords(phrase: string): string[] {
  return phrase
    .toLowerCase()
    .replace(/[^\p{L}\p{N}']+/gu, " ")
    .split(" ")
    .map((word) => word.replace(/^'+|'+$/g, ""))
    .filter(Boolean);
}

/**
 * A JSGF grammar that accepts any sequence of the phrases (one or more in a row, since sentences
 * spoken one after another run together in one span).
 */
export function phrasesToJsgf(phrases: readonly string[]): { jsgf: string; words: string[] } {
  const lines = [...new Set(phrases.map((phrase) => phraseWords(phrase).join(" ")).filter(Boolean))];
  const words = [...new Set(lines.flatMap((line) => line.split(" ")))];
  const rules = lines.map((line, i) => `<p${i}> = ${line};`);
  const jsgf = [
    "#JSGF V1.0;",
    "grammar phrases;",
    `public <utterance> = ( ${lines.map((_, i) => `<p${i}>`).join(" | ")} )+;`,
    ...rules,
    "",
  ].join("\n");
  return { jsgf, words };
}

const FILLER = /^(<s>|<\/s>|<sil>|\(NULL\)|\[[^\]]*\]|\+\+.*\+\+)$/i;

/**
 * The PocketSphinx engine, local and real: Debian's `pocketsphinx-en-us` model decoded by
 * `python3-pocketsphinx`. Each decoder is a long-lived Python process that loads the model once
 * (~0.7 s on an idle core) and then decodes span after span, so a worker pays the load once, not per job. With
 * `phrases` a job decodes with a JSGF grammar of those phrases instead of the language model
 * (exact on clear speech); grammars are compiled once per decoder and reused.
 *
 * Needs `apt-get install python3-pocketsphinx pocketsphinx-en-us` (and `sox` to decode audio).
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { pocketsphinx, stt } from "@conveyor/plugin-stt";
 *
 * const conveyor = await createConveyor({
 *   plugins: [stt({ engine: pocketsphinx({ decoders: 2 }), roots: ["./audio"] })],
 * });
 * ```
 */
export function pocketsphinx(options: PocketSphinxOptions = {}): SttEngineFactory {
  const settings = {
    hmm: `${MODEL}/en-us`,
    lm: `${MODEL}/en-us.lm.bin`,
    dict: `${MODEL}/cmudict-en-us.dict`,
    language: "en-US",
    decoders: 1,
    pauseMs: 400,
    maxChunkMs: 30_000,
    timeoutMs: 300_000,
    ...options,
  } satisfies PocketSphinxOptions;
  const python = options.python ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  return {
    name: "pocketsphinx",
    sampleRate: 16_000,
    maxChunkMs: settings.maxChunkMs,
    defaultLanguage: settings.language,
    async load({ log }): Promise<SttEngine> {
      for (const [what, path] of [
        ["acoustic model", settings.hmm],
        ["language model", settings.lm],
        ["dictionary", settings.dict],
      ] as const) {
        if (!existsSync(path)) {
          throw new EngineNotInstalledError(`the PocketSphinx ${what} (${path})`, INSTALL);
        }
      }
      const model = { hmm: settings.hmm, lm: settings.lm, dict: settings.dict };
      const decoders: Promise<Decoder>[] = [Decoder.start(python, model, log)];
      await decoders[0];
      let nextId = 1;

      // The least busy live decoder; another is started while every one is busy, up to `decoders`.
      const pick = async (): Promise<Decoder> => {
        const settled = await Promise.all(decoders.map((d) => d.catch(() => undefined)));
        for (let i = settled.length - 1; i >= 0; i--) {
          if (!settled[i] || settled[i]?.exited) decoders.splice(i, 1);
        }
        const live = settled.filter((d): d is Decoder => d !== undefined && !d.exited);
        const idle = live.find((d) => d.busy === 0);
        if (idle) return idle;
        if (live.length < settings.decoders) {
          const started = Decoder.start(python, model, log);
          decoders.push(started);
          return started;
        }
        return live.reduce((a, b) => (b.busy < a.busy ? b : a));
      };

      return {
        name: "pocketsphinx",
        async transcribe(audio: EngineAudio, request: EngineRequest): Promise<EngineResult> {
          const primary = (tag: string) => tag.split("-")[0]!.toLowerCase();
          if (request.language && primary(request.language) !== primary(settings.language)) {
            throw new SttEngineError(
              "pocketsphinx",
              `the loaded model is ${settings.language} and cannot transcribe ${request.language}. Give pocketsphinx({ hmm, lm, dict, language }) a model for that language, or leave language out`,
              { retryable: false, details: { model: settings.language, language: request.language } },
            );
          }
          const grammar = request.phrases?.length ? phrasesToJsgf(request.phrases) : undefined;
          if (grammar && grammar.words.length === 0) throw new GrammarError("pocketsphinx", []);
          const decoder = await pick();
          const answer = await decoder.request(
            {
              path: audio.path,
              offset: audio.byteOffset,
              length: audio.byteLength,
              ...(grammar ? { grammar } : {}),
            },
            nextId++,
            settings.timeoutMs,
            request.signal,
          );
          if (answer.error === "grammar") throw new GrammarError("pocketsphinx", answer.unknown ?? []);
          if (answer.error) {
            throw new SttEngineError("pocketsphinx", answer.message ?? "the decoder reported an error", {
              retryable: false,
            });
          }
          const words = (answer.words ?? [])
            .filter(([word]) => !FILLER.test(word))
            .map(([word, startMs, endMs, confidence]) => ({
              word: word.replace(/\(\d+\)$/, ""),
              startMs: Math.round(startMs),
              endMs: Math.round(endMs),
              confidence: Math.min(1, Math.max(0, confidence)),
            }));
          return {
            segments: wordsToSegments(words, { pauseMs: settings.pauseMs }),
            language: settings.language,
          };
        },
        async close() {
          const all = await Promise.all(decoders.map((d) => d.catch(() => undefined)));
          await Promise.all(all.map((d) => d?.close()));
        },
      };
    },
  };
}
