import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the server received. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: any;
  at: number;
}

/** A scripted answer that replaces the API's normal one for the next request to a path. */
export interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Wait this long before answering (to test time limits). */
  delayMs?: number;
}

/** The "translation" the fake APIs do: words reversed, target tagged. Deterministic and visible. */
export const fakeTranslate = (text: string, target: string): string =>
  `${text.split(" ").reverse().join(" ")} [${target.toLowerCase()}]`;

/**
 * A local HTTP server speaking the request/response shapes of LibreTranslate (`/translate`,
 * `/languages`), DeepL API v2 (`/v2/translate`, `/v2/languages`) and OpenAI chat completions
 * (`/v1/chat/completions`), recording every request. Scripted answers (429s, 5xx, bad bodies)
 * are served first, in order, per path.
 */
export class FakeApis {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Scripted[]>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Answers the next requests to `path` with these, in order, before the normal answers. */
  script(path: string, ...answers: Scripted[]): void {
    this.scripts.set(path, [...(this.scripts.get(path) ?? []), ...answers]);
  }

  /** Requests to a path. */
  to(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(request.url ?? "/", "http://local");
    const received: Received = {
      method: request.method ?? "GET",
      path: url.pathname,
      headers: request.headers,
      body: text ? JSON.parse(text) : undefined,
      at: performance.now(),
    };
    this.received.push(received);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    const scripted = this.scripts.get(url.pathname)?.shift();
    if (scripted) {
      if (scripted.delayMs) await new Promise((resolve) => setTimeout(resolve, scripted.delayMs));
      if (!response.destroyed) send(scripted.status, scripted.body ?? {}, scripted.headers);
      return;
    }
    const body = received.body;
    switch (`${received.method} ${url.pathname}`) {
      case "POST /translate": {
        const q = body.q as string | string[];
        const answer = Array.isArray(q)
          ? q.map((t) => fakeTranslate(t, body.target))
          : fakeTranslate(q, body.target);
        send(200, { translatedText: answer });
        return;
      }
      case "GET /languages":
        send(200, [
          { code: "en", name: "English", targets: ["en", "es", "fr"] },
          { code: "es", name: "Spanish", targets: ["en", "es"] },
        ]);
        return;
      case "POST /v2/translate":
        if (!String(request.headers.authorization).startsWith("DeepL-Auth-Key ")) {
          send(403, { message: "Wrong endpoint or authentication" });
          return;
        }
        send(200, {
          translations: (body.text as string[]).map((t) => ({
            detected_source_language: body.source_lang ?? "EN",
            text: fakeTranslate(t, body.target_lang),
          })),
        });
        return;
      case "GET /v2/languages":
        send(
          200,
          url.searchParams.get("type") === "target"
            ? [
                { language: "ES", name: "Spanish", supports_formality: true },
                { language: "EN-US", name: "English (American)", supports_formality: false },
              ]
            : [
                { language: "EN", name: "English" },
                { language: "ES", name: "Spanish" },
              ],
        );
        return;
      case "POST /v1/chat/completions": {
        const system = body.messages[0].content as string;
        const target = /\bto ([A-Z][a-z]+)/.exec(system)?.[1] ?? "?";
        const user = body.messages[1].content as string;
        const content =
          body.response_format?.type === "json_object"
            ? JSON.stringify({
                translations: (JSON.parse(user).texts as string[]).map((t) => fakeTranslate(t, target)),
              })
            : fakeTranslate(user, target);
        send(200, {
          id: "chatcmpl-1",
          object: "chat.completion",
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
          usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
        });
        return;
      }
      default:
        send(404, { error: `no route ${received.method} ${url.pathname}` });
    }
  }
}
