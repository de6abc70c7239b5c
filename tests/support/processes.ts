// Child processes for the cross-process tests: a fixture runs from source in its own node process
// and talks back in stdout lines ("ready", "start <id> <attempt>", …).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const testsDir = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];

/** A fixture running in its own node process. */
export interface FixtureProcess {
  readonly child: ChildProcess;
  /** Resolves once the fixture prints "ready", with what follows it on the line ("" for none). */
  readonly ready: Promise<string>;
  readonly exited: Promise<void>;
}

/** A worker fixture: also collects the "start <id> <attempt>" line it prints as each job starts. */
export interface WorkerProcess extends FixtureProcess {
  readonly starts: { id: string; attempt: number }[];
}

/**
 * Runs `tests/<fixture>` from source (`node --import tsx`) with the tsconfig of its topic folder
 * (`tests/<topic>/tsconfig.json`), so `@conveyor/*` resolve to their TypeScript sources.
 * `onLine` sees every stdout line; stderr goes to the test's own.
 */
export function startFixture(
  fixture: string,
  args: readonly (string | number)[],
  onLine: (line: string) => void = () => {},
): FixtureProcess {
  const topic = fixture.slice(0, fixture.indexOf("/"));
  const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args.map(String)], {
    cwd: testsDir,
    env: { ...process.env, TSX_TSCONFIG_PATH: `${topic}/tsconfig.json` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let markReady: (rest: string) => void;
  const ready = new Promise<string>((resolve) => {
    markReady = resolve;
  });
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line === "ready" || line.startsWith("ready ")) markReady(line.slice("ready ".length));
      onLine(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, ready, exited };
}

/** {@link startFixture} for a worker fixture, collecting its "start" lines. */
export function startWorker(
  fixture: string,
  args: readonly (string | number)[],
  onLine: (line: string) => void = () => {},
): WorkerProcess {
  const starts: { id: string; attempt: number }[] = [];
  const started = startFixture(fixture, args, (line) => {
    const match = /^start (\S+) (\d+)$/.exec(line);
    if (match) starts.push({ id: match[1]!, attempt: Number(match[2]) });
    onLine(line);
  });
  return { ...started, starts };
}

/** SIGTERM (the fixture closes cleanly) and wait for the exit; nothing to do if it is gone. */
export async function stopFixture(fixture: FixtureProcess): Promise<void> {
  if (isRunning(fixture.child)) fixture.child.kill("SIGTERM");
  await fixture.exited;
}

/**
 * SIGKILLs every fixture process a test left running. Call it first in `afterEach`, before closing
 * what those processes use (the Redis server, folders).
 */
export function killLeftovers(): void {
  for (const child of children.splice(0)) if (isRunning(child)) child.kill("SIGKILL");
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}
