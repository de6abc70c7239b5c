import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./errors.js";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/** Whether the request announces a body (a length above zero or a chunked transfer). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

/**
 * Reads a JSON body of at most `maxBytes`. Returns `undefined` when the request has no body.
 * Throws `HttpError` 415 for a non-JSON content type, 413 for a body over the limit (decided from
 * `Content-Length` before reading when it is given), 400 for text that is not UTF-8 JSON.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `the request body must be JSON (Content-Type: application/json), got ${type ? `"${type.slice(0, 100)}"` : "no Content-Type"}. Send JSON with that header.`,
      { details: { contentType: type.slice(0, 100) } },
    );
  }
  const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.headers["content-type"] ?? "")?.[2];
  if (charset && !/^utf-?8$/i.test(charset)) {
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `the request body must be UTF-8 JSON, got charset "${charset.slice(0, 40)}". Send UTF-8.`,
      { details: { charset: charset.slice(0, 40) } },
    );
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(req, maxBytes);
    throw tooLarge(maxBytes);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        discard(req, maxBytes);
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(
        new HttpError(400, "BAD_REQUEST", "the request body could not be read. Send it again.", {
          cause: error,
        }),
      );
    };
    const onAborted = () => onError(new Error("request aborted"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });

  const buffer = Buffer.concat(chunks, size);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buffer);
  } catch (cause) {
    throw new HttpError(400, "BAD_JSON", "the request body is not valid UTF-8. Send UTF-8 JSON.", { cause });
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new HttpError(
      400,
      "BAD_JSON",
      `the request body is not valid JSON: ${(cause as Error).message}. Send a JSON document.`,
      { cause },
    );
  }
}

/**
 * Reads and drops the rest of a refused body, so the client (still sending) gets to read the 413
 * instead of a connection reset; a client that keeps sending past 16 times the limit is cut off.
 */
function discard(req: IncomingMessage, maxBytes: number): void {
  let dropped = 0;
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > maxBytes * 16) req.socket.destroy();
  });
  req.resume();
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "PAYLOAD_TOO_LARGE",
    `the request body is larger than ${maxBytes} bytes. Send less (bulk submit in several requests, or pass large data by reference), or raise maxBodyBytes.`,
    { details: { maxBodyBytes: maxBytes } },
  );
}

/** Writes a JSON answer. HEAD requests get the headers only (Node drops the body). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(text);
}

/** Writes a text answer. */
export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(text);
}
