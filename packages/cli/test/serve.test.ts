import { describe, expect, it } from "vitest";
import { registerMemoryAdapter, runCli } from "../src/index.js";
import { cleanEnv, cli, FIXTURE } from "./support/cli.js";

registerMemoryAdapter();

/** Runs the CLI in this process, handing stdout over as it is written (serve runs until stopped). */
async function serveCli(
  argv: string[],
  options: { signal: AbortSignal; env?: Record<string, string>; onStdout(chunk: string): void },
) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
        options.onStdout(chunk);
      },
    },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: cleanEnv(options.env),
    cwd: FIXTURE,
    signal: options.signal,
  });
  return { code, stdout, stderr };
}

/** Waits until the run printed its `started` document and returns it. */
async function started(output: () => string): Promise<{ url: string; auth: boolean; tasks: string[] }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = output()
      .split("\n")
      .find((l) => l.includes('"event":"started"'));
    if (line) return JSON.parse(line);
    if (Date.now() > deadline) throw new Error(`serve did not start; output so far:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("conveyor serve", () => {
  it("serves the API with an in-process worker until stopped, then exits 0", async () => {
    const stop = new AbortController();
    let stdout = "";
    const running = serveCli(["serve", "--url", "memory://", "--port", "0", "--worker", "--json"], {
      signal: stop.signal,
      onStdout: (chunk) => (stdout += chunk),
    });
    const info = await started(() => stdout);
    expect(info.auth).toBe(false);
    expect(info.tasks).toContain("demo.add");

    const response = await fetch(`${info.url}/v1/tasks/demo.add?wait=5000`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { a: 2, b: 3 } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ state: "completed", result: 5 });
    expect((await fetch(`${info.url}/healthz`)).status).toBe(200);

    stop.abort();
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n").at(-1)).toBe('{"event":"stopped"}');
  });

  it("requires a token beyond loopback and takes it from CONVEYOR_API_TOKENS", async () => {
    const refused = await cli(["serve", "--url", "memory://", "--host", "0.0.0.0", "--port", "0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing to listen on 0.0.0.0 without an API token");

    const token = "cli-token-0123456789abcdef";
    const stop = new AbortController();
    let stdout = "";
    const running = serveCli(["serve", "--url", "memory://", "--host", "0.0.0.0", "--port", "0", "--json"], {
      signal: stop.signal,
      env: { CONVEYOR_API_TOKENS: token },
      onStdout: (chunk) => (stdout += chunk),
    });
    const info = await started(() => stdout);
    expect(info.auth).toBe(true);
    const port = new URL(info.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/v1/queues`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/queues`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    stop.abort();
    expect((await running).code).toBe(0);
  });
});
