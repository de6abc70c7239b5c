import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "@conveyor/cli";
import { describe, expect, it } from "vitest";

// `conveyor transcribe` through the real command line code, with the plugin registered by a
// config file (loaded the way users load it, from the built packages).

const FIXTURE = resolve(import.meta.dirname, "fixtures");
const PHRASES = ["open the door and turn on the light", "we will meet at the station before noon"];

const present = (command: string) => {
  try {
    execFileSync("sh", ["-c", command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const ENGINE_PRESENT =
  present("command -v espeak-ng && command -v sox") &&
  present("/usr/bin/python3 -c 'from pocketsphinx import pocketsphinx'");

async function cli(argv: string[], root: string) {
  let stdout = "";
  let stderr = "";
  process.env.STT_TEST_ROOT = root;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("CONVEYOR_")) env[key] = value;
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk), isTTY: false },
    stderr: { write: (chunk: string) => (stderr += chunk), isTTY: false, columns: 120 },
    env,
    cwd: FIXTURE,
  });
  return { code, stdout, stderr };
}

// The config file is loaded once per process (its module is cached), so every test shares one root.
const ROOT = realpathSync(mkdtempSync(join(tmpdir(), "conveyor-stt-cli-")));

function speech(): { root: string; audio: string } {
  const root = ROOT;
  const parts = PHRASES.map((sentence, i) => {
    const file = join(root, `s${i}.wav`);
    execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", file, sentence]);
    return file;
  });
  const gap = join(root, "gap.wav");
  execFileSync("sox", ["-n", "-r", "22050", "-c", "1", "-b", "16", gap, "trim", "0", "0.8"]);
  const audio = join(root, "speech.ogg");
  execFileSync("sox", [parts[0]!, gap, parts[1]!, audio]);
  return { root, audio };
}

describe.skipIf(!ENGINE_PRESENT)("conveyor transcribe", () => {
  it("prints SRT (and the job's JSON) after running the job in-process, with progress on stderr", async () => {
    const { root, audio } = speech();
    const srt = await cli(["transcribe", audio, "--phrases", PHRASES.join("|"), "--format", "srt"], root);
    expect(srt.code).toBe(0);
    expect(srt.stdout).toMatch(
      /^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nopen the door and turn on the light\n\n2\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\nwe will meet at the station before noon\n$/,
    );
    expect(srt.stderr).toContain("running the transcription in this CLI process");
    expect(srt.stderr).toMatch(/transcribed \d+\.\d s of \d+\.\d s/);

    const json = await cli(["--json", "transcribe", audio, "--phrases", PHRASES.join("|")], root);
    expect(json.code).toBe(0);
    const document = JSON.parse(json.stdout);
    expect(document).toMatchObject({
      task: "stt.transcribe",
      state: "completed",
      result: { text: PHRASES.join(" ") },
    });
    expect(document.result.formatted).toBe(`${PHRASES.join("\n")}\n`);

    const written = await cli(
      ["transcribe", audio, "--phrases", PHRASES.join("|"), "--output", join(root, "speech.vtt")],
      root,
    );
    expect(written.code).toBe(0);
    expect(written.stderr).toContain(`wrote ${join(root, "speech.vtt")}`);
    expect(readFileSync(join(root, "speech.vtt"), "utf8")).toMatch(/^WEBVTT\n\n00:00:00\.\d{3} --> /);
  }, 60_000);

  it("exits 2 on a bad --format and 1 with the engine's typed error on an unknown phrase word", async () => {
    const { root, audio } = speech();
    const format = await cli(["transcribe", audio, "--format", "docx"], root);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("--format docx is not a transcript format");
    const grammar = await cli(["transcribe", audio, "--phrases", "open the xyzzyq"], root);
    expect(grammar.code).toBe(1);
    expect(grammar.stderr).toContain("GrammarError");
    expect(grammar.stderr).toContain("xyzzyq");
    const outside = await cli(["transcribe", "/etc/hostname"], root);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain("PathNotAllowedError");
  }, 60_000);

  it("prints only the job id with --no-wait", async () => {
    const { root, audio } = speech();
    const run = await cli(
      ["transcribe", audio, "--no-wait", "--queue-url", `disk://${join(root, ".conveyor")}`],
      root,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  }, 60_000);
});
