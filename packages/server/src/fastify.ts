import type { IncomingMessage, ServerResponse } from "node:http";
import { type ConveyorHandlerOptions, createConveyorHandler } from "./handler.js";

/**
 * The part of a Fastify instance the plugin uses, written out so `@conveyor/server` needs no
 * Fastify types at all; a real `FastifyInstance` fits it.
 */
export interface FastifyInstanceLike {
  /** The prefix the plugin is registered under (`register(plugin, { prefix })`). */
  readonly prefix: string;
  /** Adds a route. */
  route(options: {
    method: string[];
    url: string;
    exposeHeadRoute?: boolean;
    handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void;
  }): unknown;
  /** Replaces body parsing in the plugin's scope. */
  removeAllContentTypeParsers(): unknown;
  /** Adds a body parser. */
  addContentTypeParser(
    type: string,
    parser: (request: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void,
  ): unknown;
  /** Runs `hook` when the app closes. */
  addHook(name: "onClose", hook: (instance: unknown) => Promise<void>): unknown;
}

/** Options of {@link conveyorFastify}: those of {@link createConveyorHandler}; the base path is the plugin's prefix. */
export type ConveyorFastifyOptions = Omit<ConveyorHandlerOptions, "basePath">;

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * A Fastify plugin that serves the Conveyor API under the prefix it is registered with. Requests
 * are handed, unparsed, to the same handler as {@link startServer} (Fastify's body parsing is
 * turned off in the plugin's scope), so limits, errors and event streams behave the same.
 * The handler is closed with the app; the platform is not.
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { createConveyor } from "@conveyor/core";
 * import { conveyorFastify } from "@conveyor/server";
 *
 * const conveyor = await createConveyor({ url: "memory://" });
 * const app = Fastify();
 * await app.register(conveyorFastify, { prefix: "/conveyor", conveyor });
 * await app.listen({ port: 3000 });
 * ```
 */
export async function conveyorFastify(
  app: FastifyInstanceLike,
  options: ConveyorFastifyOptions,
): Promise<void> {
  const { prefix: _prefix, ...handlerOptions } = options as ConveyorFastifyOptions & { prefix?: string };
  const handler = createConveyorHandler({ ...handlerOptions, basePath: app.prefix });
  app.addHook("onClose", () => handler.close());
  // The handler reads (and limits) the body itself: leave the stream untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  for (const url of ["/", "/*"]) {
    app.route({
      method: METHODS,
      url,
      exposeHeadRoute: false,
      handler(request, reply) {
        reply.hijack();
        handler(request.raw, reply.raw);
      },
    });
  }
}
