import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, open } from "node:fs/promises";
import { delimiter, extname, join } from "node:path";
import { AudioDecodeError, EngineNotInstalledError } from "./errors.js";

/** A finished child process. */
export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to the end, killing it when `signal` aborts; never through a shell. */
export function runProgram(
  command: string,
  args: readonly string[],
  options: { signal?: AbortSignal | undefined } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < 64 * 1024) err += chunk.toString("utf8");
    });
    child.on("error", (error) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      else reject(error);
    });
    child.on("close", (code) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      else resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

const found = new Map<string, Promise<string | undefined>>();

/** The full path of an executable on `PATH` (looked up once per process), or undefined. */
export function findProgram(name: string): Promise<string | undefined> {
  let held = found.get(name);
  if (!held) {
    held = (async () => {
      for (const dir of (process.env.PATH ?? "").split(delimiter)) {
        if (!dir) continue;
        const candidate = join(dir, name);
        try {
          await access(candidate, constants.X_OK);
          return candidate;
        } catch {}
      }
      return undefined;
    })();
    found.set(name, held);
  }
  return held;
}

/** A 16-bit little-endian PCM mono WAV file, as produced by {@link decodeAudio}. */
export interface WavInfo {
  /** Path of the WAV file. */
  path: string;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Bytes of sample data. */
  dataBytes: number;
  /** Samples per second. */
  sampleRate: number;
  /** Length of the audio in ms. */
  durationMs: number;
}

/** Reads the RIFF header of a 16-bit mono PCM WAV file and finds its `data` chunk. */
export async function readWavInfo(path: string): Promise<WavInfo> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 4096));
    await handle.read(head, 0, head.length, 0);
    if (head.toString("ascii", 0, 4) !== "RIFF" || head.toString("ascii", 8, 12) !== "WAVE") {
      throw new AudioDecodeError(path, "it is not a RIFF/WAVE file");
    }
    let offset = 12;
    let sampleRate = 0;
    let channels = 0;
    let bits = 0;
    while (offset + 8 <= head.length) {
      const id = head.toString("ascii", offset, offset + 4);
      const length = head.readUInt32LE(offset + 4);
      if (id === "fmt ") {
        channels = head.readUInt16LE(offset + 10);
        sampleRate = head.readUInt32LE(offset + 12);
        bits = head.readUInt16LE(offset + 22);
      } else if (id === "data") {
        if (channels !== 1 || bits !== 16 || sampleRate === 0) {
          throw new AudioDecodeError(
            path,
            `expected 16-bit mono PCM, found ${channels} channel(s) of ${bits} bits`,
          );
        }
        const dataOffset = offset + 8;
        // sox writes 0 or 0xffffffff as the length of a stream it could not seek back into.
        const declared = length === 0 || length === 0xffffffff ? size - dataOffset : length;
        const dataBytes = Math.min(declared, size - dataOffset) & ~1;
        return { path, dataOffset, dataBytes, sampleRate, durationMs: (dataBytes / 2 / sampleRate) * 1000 };
      }
      offset += 8 + length + (length % 2);
    }
    throw new AudioDecodeError(path, "the WAV file has no data chunk");
  } finally {
    await handle.close();
  }
}

/** Options of {@link decodeAudio}. */
export interface DecodeOptions {
  /** Samples per second of the output. */
  sampleRate: number;
  /** Kills the decoder when aborted. */
  signal?: AbortSignal | undefined;
  /** Which decoders may be used, in order. @defaultValue `["sox", "ffmpeg"]` */
  decoders?: readonly ("sox" | "ffmpeg")[] | undefined;
}

function soxHint(input: string, stderr: string): string {
  const ext = extname(input).slice(1).toLowerCase();
  if (/no handler for file extension|no handler for detected file type|can't open input/i.test(stderr)) {
    if (ext === "mp3") return "sox has no MP3 support here. Install it: apt-get install libsox-fmt-mp3";
    return `sox cannot read .${ext || "(no extension)"} files. Use WAV, FLAC, OGG or MP3, or install ffmpeg`;
  }
  return stderr.trim().split("\n").slice(-2).join(" ") || "the decoder failed";
}

/**
 * Decodes any audio file the machine can read into a 16-bit mono PCM WAV file at `sampleRate`:
 * with sox first (WAV, FLAC, OGG; MP3 with `libsox-fmt-mp3`), then ffmpeg when it is installed.
 * Throws {@link AudioDecodeError} naming what to install when neither can read the file.
 */
export async function decodeAudio(input: string, output: string, options: DecodeOptions): Promise<WavInfo> {
  const decoders = options.decoders ?? ["sox", "ffmpeg"];
  const failures: string[] = [];
  let anyInstalled = false;
  for (const decoder of decoders) {
    const program = await findProgram(decoder);
    if (!program) continue;
    anyInstalled = true;
    const rate = String(options.sampleRate);
    const args =
      decoder === "sox"
        ? ["-V1", "-D", input, "-t", "wav", "-r", rate, "-c", "1", "-b", "16", "-e", "signed-integer", output]
        : [
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            input,
            "-vn",
            "-ac",
            "1",
            "-ar",
            rate,
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            output,
          ];
    const result = await runProgram(program, args, { signal: options.signal });
    if (result.code === 0) {
      const info = await readWavInfo(output);
      if (info.dataBytes === 0) throw new AudioDecodeError(input, "it holds no audio samples");
      return info;
    }
    failures.push(
      decoder === "sox" ? soxHint(input, result.stderr) : result.stderr.trim() || "ffmpeg failed",
    );
  }
  if (!anyInstalled) {
    throw new EngineNotInstalledError(
      `an audio decoder (${decoders.join(" or ")})`,
      `apt-get install ${decoders.includes("sox") ? "sox" : decoders.join(" ")}`,
    );
  }
  throw new AudioDecodeError(input, failures.join("; "));
}

/** Reads the samples of `[startMs, endMs)` of a WAV file from {@link readWavInfo}. */
export async function readPcm(wav: WavInfo, startMs: number, endMs: number): Promise<Buffer> {
  const bytesPerMs = (wav.sampleRate * 2) / 1000;
  const start = Math.min(wav.dataBytes, Math.round(startMs * bytesPerMs) & ~1);
  const end = Math.min(wav.dataBytes, Math.round(endMs * bytesPerMs) & ~1);
  const buffer = Buffer.alloc(Math.max(0, end - start));
  const handle = await open(wav.path, "r");
  try {
    await handle.read(buffer, 0, buffer.length, wav.dataOffset + start);
  } finally {
    await handle.close();
  }
  return buffer;
}

/** A WAV file (16-bit mono PCM) in memory, for engines that take a file upload. */
export function wavFile(pcm: Buffer, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write("WAVE", 8, "ascii");
  header.write("fmt ", 12, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/** Options of {@link planChunks}. */
export interface ChunkPlanOptions {
  /** Longest chunk, in ms; longer audio is cut, on silence where there is one. */
  maxChunkMs: number;
  /** Shortest pause that counts as a place to cut, in ms. @defaultValue 300 */
  minSilenceMs?: number;
  /** Frame length of the level analysis, in ms. @defaultValue 10 */
  frameMs?: number;
}

/** A span of the audio, in ms from its start. */
export interface Span {
  startMs: number;
  endMs: number;
}

/**
 * Loudness of each `frameMs` frame in dBFS (−100 for digital silence), read in one pass over the
 * file so an hour of audio costs ~1.5 MB of levels, not its samples.
 */
export async function frameLevels(wav: WavInfo, frameMs = 10): Promise<Float32Array> {
  const frameSamples = Math.max(1, Math.round((wav.sampleRate * frameMs) / 1000));
  const frames = Math.ceil(wav.dataBytes / 2 / frameSamples);
  const levels = new Float32Array(frames);
  const handle = await open(wav.path, "r");
  try {
    const block = Buffer.alloc(frameSamples * 2 * 1000);
    let position = 0;
    let frame = 0;
    while (position < wav.dataBytes) {
      const want = Math.min(block.length, wav.dataBytes - position);
      const { bytesRead } = await handle.read(block, 0, want, wav.dataOffset + position);
      if (bytesRead === 0) break;
      for (let offset = 0; offset < bytesRead; offset += frameSamples * 2) {
        const end = Math.min(bytesRead, offset + frameSamples * 2);
        let sum = 0;
        for (let i = offset; i + 1 < end; i += 2) {
          const sample = block.readInt16LE(i);
          sum += sample * sample;
        }
        const rms = Math.sqrt(sum / Math.max(1, (end - offset) / 2)) / 32768;
        levels[frame++] = rms > 0 ? Math.max(-100, 20 * Math.log10(rms)) : -100;
      }
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return levels;
}

/**
 * Splits audio into chunks of at most `maxChunkMs`, cutting in the middle of the longest pause
 * in the second half of each chunk (else the latest pause in it), so no word is cut in two where the speaker pauses at all; audio
 * without a pause is cut at `maxChunkMs`. A pause is a run of frames quieter than the noise floor
 * (10th percentile) + 15 dB, clamped to [−60, −30] dBFS. Chunks that are silence only are dropped.
 */
export function planChunks(levels: Float32Array, durationMs: number, options: ChunkPlanOptions): Span[] {
  const frameMs = options.frameMs ?? 10;
  const minSilenceFrames = Math.max(1, Math.round((options.minSilenceMs ?? 300) / frameMs));
  const maxFrames = Math.max(minSilenceFrames * 2, Math.floor(options.maxChunkMs / frameMs));
  const sorted = Float32Array.from(levels).sort();
  const floor = sorted[Math.floor(sorted.length * 0.1)] ?? -100;
  const threshold = Math.min(-30, Math.max(-60, floor + 15));
  const quiet = (frame: number) => (levels[frame] ?? -100) < threshold;

  // Every pause of at least minSilenceFrames, as [start, end) frame ranges.
  const pauses: [number, number][] = [];
  for (let frame = 0; frame < levels.length; ) {
    if (!quiet(frame)) {
      frame++;
      continue;
    }
    const start = frame;
    while (frame < levels.length && quiet(frame)) frame++;
    if (frame - start >= minSilenceFrames) pauses.push([start, frame]);
  }

  const cuts: number[] = [];
  let start = 0;
  while (levels.length - start > maxFrames) {
    const limit = start + maxFrames;
    // The longest pause whose middle lies in the second half of the window: a cut there leaves
    // chunks of useful length and keeps the pause's silence on both sides of the cut. Failing
    // that, the latest pause in the window, which still beats cutting through a word.
    let best: [number, number] | undefined;
    let latest: [number, number] | undefined;
    for (const pause of pauses) {
      const middle = (pause[0] + pause[1]) >> 1;
      if (middle <= start || middle >= limit) continue;
      latest = pause;
      if (middle <= start + (maxFrames >> 1)) continue;
      if (!best || pause[1] - pause[0] > best[1] - best[0]) best = pause;
    }
    best ??= latest;
    const cut = best ? (best[0] + best[1]) >> 1 : limit;
    cuts.push(cut);
    start = cut;
  }
  const bounds = [0, ...cuts, levels.length];
  const spans: Span[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i] as number;
    const to = bounds[i + 1] as number;
    let voiced = false;
    for (let frame = from; frame < to && !voiced; frame++) voiced = !quiet(frame);
    if (!voiced && bounds.length > 2) continue;
    spans.push({ startMs: from * frameMs, endMs: Math.min(durationMs, to * frameMs) });
  }
  return spans;
}
