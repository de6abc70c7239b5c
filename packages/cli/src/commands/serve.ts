import { maskUrl } from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { UsageError } from "../errors.js";
import { commaList, wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

interface ServeFlags {
  host: string;
  port: number;
  basePath?: string;
  maxBodyBytes?: number;
  cors?: string[];
  worker?: boolean;
  concurrency?: number;
}

/** Resolves on SIGINT/SIGTERM or when the CLI's signal aborts. */
function stopRequested(signal: AbortSignal | undefined): { promise: Promise<string>; dispose(): void } {
  let dispose = () => {};
  const promise = new Promise<string>((resolve) => {
    const onSignal = (name: NodeJS.Signals) => resolve(name);
    const onAbort = () => resolve("abort");
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    dispose = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      signal?.removeEventListener("abort", onAbort);
    };
  });
  return { promise, dispose: () => dispose() };
}

async function serve(ctx: CommandContext, flags: ServeFlags): Promise<number> {
  // Loaded on use: the other commands do not pay for the server's code.
  const { startServer } = await import("@conveyor/server");
  return ctx.withPlatform(async (conveyor) => {
    const worker = flags.worker
      ? conveyor.worker(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {})
      : undefined;
    const stop = stopRequested(ctx.signal);
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({
        conveyor,
        host: flags.host,
        port: flags.port,
        env: ctx.env,
        ...(flags.basePath !== undefined ? { basePath: flags.basePath } : {}),
        ...(flags.maxBodyBytes !== undefined ? { maxBodyBytes: flags.maxBodyBytes } : {}),
        ...(flags.cors ? { cors: { origins: flags.cors.includes("*") ? "*" : flags.cors } } : {}),
      });
    } catch (error) {
      stop.dispose();
      await worker?.close();
      throw error;
    }
    const backend = maskUrl(conveyor.backends.queue);
    const tasks = conveyor.tasks().map((task) => task.name);
    const auth = server.handler.authEnabled ? "bearer tokens" : "none (loopback only)";
    if (ctx.out.flags.json) {
      ctx.out.line(
        JSON.stringify({
          event: "started",
          url: `${server.url}${flags.basePath ?? ""}`,
          backend,
          auth: server.handler.authEnabled,
          worker: worker ? { id: worker.id, concurrency: worker.concurrency } : null,
          tasks,
        }),
      );
    } else {
      ctx.out.info(
        [
          `conveyor API listening on ${server.url}${flags.basePath ?? ""}`,
          `  queue backend  ${backend}`,
          `  auth           ${auth}`,
          `  worker         ${worker ? `${worker.id} (concurrency ${worker.concurrency})` : "none (run `conveyor worker` to process jobs)"}`,
          `  tasks          ${tasks.length ? tasks.join(", ") : "(none registered: every submit answers 404)"}`,
          `  docs           ${server.url}${flags.basePath ?? ""}/openapi.json`,
          "Stop with Ctrl-C or SIGTERM.",
        ].join("\n"),
      );
    }
    if (!conveyor.queue.capabilities.shared && !worker) {
      ctx.out.warn(
        `[conveyor:cli] ${backend} is in-process: jobs submitted to this API only run in this process. Add --worker, or use a shared backend (--url redis://… or disk://…).`,
      );
    }
    const reason = await stop.promise;
    stop.dispose();
    ctx.out.info(
      `conveyor API stopping (${reason}): closing connections${worker ? " and draining the worker" : ""}`,
    );
    await server.close();
    await worker?.close({ drain: true });
    if (ctx.out.flags.json) ctx.out.line(JSON.stringify({ event: "stopped" }));
    else ctx.out.info("conveyor API stopped");
    return 0;
  });
}

function port(value: string): number {
  const parsed = wholeNumber("a port", 0)(value);
  if (parsed > 65_535) throw new UsageError(`--port must be from 0 to 65535, got ${parsed}.`);
  return parsed;
}

/** `conveyor serve`: the HTTP API (see `@conveyor/server`) until SIGTERM/SIGINT. */
export function registerServe(program: Command, action: ActionFactory): void {
  program
    .command("serve")
    .description(
      "serve the HTTP API: submit tasks, job status and live events (SSE), queues, workers, /metrics, /openapi.json",
    )
    .option(
      "--host <address>",
      "address to listen on; beyond loopback it needs CONVEYOR_API_TOKENS",
      "127.0.0.1",
    )
    .option("--port <n>", "port to listen on (0 picks a free one)", port, 8400)
    .option("--base-path <path>", 'serve the API under this path, e.g. "/conveyor"')
    .option(
      "--max-body-bytes <n>",
      "largest request body accepted (default: 1048576)",
      wholeNumber("a byte count", 1),
    )
    .option(
      "--cors <origins>",
      'allow browsers from these origins, comma-separated ("*" for any); off by default',
      commaList,
    )
    .option("--worker", "also run a worker in this process (needed with memory://)")
    .option("--concurrency <n>", "jobs the --worker runs at once", wholeNumber("a job count", 1))
    .addHelpText(
      "after",
      [
        "",
        "Tokens: CONVEYOR_API_TOKENS=<token>[,<token>…] (each at least 16 characters); clients send",
        "Authorization: Bearer <token>. Without a token the server only listens on loopback.",
        "",
        "Examples:",
        "  $ conveyor serve --worker",
        "  $ CONVEYOR_API_TOKENS=$(openssl rand -hex 24) conveyor serve --host 0.0.0.0 --url redis://localhost:6379",
        '  $ curl -X POST localhost:8400/v1/tasks/demo.add -H \'content-type: application/json\' -d \'{"input":{"a":1,"b":2}}\'',
      ].join("\n"),
    )
    .action(action<ServeFlags>((ctx, flags) => serve(ctx, flags)));
}
