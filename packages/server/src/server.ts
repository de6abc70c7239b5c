import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "@conveyor/core";
import { isLoopbackHost } from "./auth.js";
import { type ConveyorHandler, type ConveyorHandlerOptions, createConveyorHandler } from "./handler.js";

/** Options of {@link startServer}: where to listen, and everything {@link createConveyorHandler} takes. */
export interface ServerOptions extends ConveyorHandlerOptions {
  /**
   * Address to listen on. Anything but a loopback address (`127.0.0.1`, `::1`, `localhost`)
   * needs at least one API token, or the server refuses to start.
   * @defaultValue "127.0.0.1"
   */
  host?: string;
  /** Port to listen on; `0` picks a free one. @defaultValue 8400 */
  port?: number;
}

/** A running API server. */
export interface ConveyorServer {
  /** Base URL, e.g. `http://127.0.0.1:8400`. */
  readonly url: string;
  /** The port it listens on (useful with `port: 0`). */
  readonly port: number;
  /** The host it listens on. */
  readonly host: string;
  /** The Node server. */
  readonly server: Server;
  /** The request handler. */
  readonly handler: ConveyorHandler;
  /**
   * Stops accepting connections, ends event streams and closes open connections. The platform
   * (`conveyor`) stays open: close it yourself.
   */
  close(): Promise<void>;
}

/**
 * Starts the HTTP API on `host:port`. Refuses (a `ConfigError`) to listen beyond loopback
 * without a token, so an open API is never exposed by accident.
 *
 * @example
 * ```ts
 * import { createConveyor } from "@conveyor/core";
 * import { startServer } from "@conveyor/server";
 *
 * const conveyor = await createConveyor({ url: "memory://" });
 * const server = await startServer({ conveyor, port: 0 });
 * console.log(`API on ${server.url}`);
 * await server.close();
 * await conveyor.close();
 * ```
 */
export async function startServer(options: ServerOptions): Promise<ConveyorServer> {
  const { host = "127.0.0.1", port = 8400, ...handlerOptions } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`the server port must be a whole number from 0 to 65535, got ${port}.`, {
      scope: "server",
    });
  }
  const handler = createConveyorHandler(handlerOptions);
  if (!handler.authEnabled && !isLoopbackHost(host)) {
    await handler.close();
    throw new ConfigError(
      `refusing to listen on ${host} without an API token: anyone who can reach it could submit and cancel jobs. Set CONVEYOR_API_TOKENS (or auth.tokens), or listen on 127.0.0.1.`,
      { scope: "server", details: { host } },
    );
  }
  const server = createServer(handler);
  // Slow-loris protection: a client must send its headers, and its body, within these bounds.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await handler.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    host,
    server,
    handler,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await handler.close();
        server.closeIdleConnections();
        // Connections still busy after the streams ended are cut: close() must not wait on a client.
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
        await stopped;
      })();
      return closing;
    },
  };
}
