import { HttpError } from "./errors.js";

/** A route pattern split into literal segments and `:param` segments. */
export interface RoutePattern<C> {
  method: string;
  /** The pattern, e.g. `/v1/jobs/:id`; also the `route` label of metrics. */
  pattern: string;
  /** Routes callers may use without a token (health probes). */
  public?: boolean;
  run(context: C): Promise<void>;
}

interface Compiled<C> extends RoutePattern<C> {
  segments: string[];
}

/** The route a request matched, with its decoded path parameters. */
export interface Match<C> {
  route: RoutePattern<C>;
  params: Record<string, string>;
}

function split(path: string): string[] {
  return path.split("/").slice(1);
}

/** Matches a method and a path against a fixed list of routes. */
export class Router<C> {
  private readonly routes: Compiled<C>[];

  constructor(routes: readonly RoutePattern<C>[]) {
    this.routes = routes.map((route) => ({ ...route, segments: split(route.pattern) }));
  }

  /**
   * The route for `method` and `path` (HEAD matches GET routes). Throws `HttpError` 404 when no
   * route has the path, 405 (with `Allow`) when routes have it for other methods, 400 when a
   * path segment is not valid percent-encoding.
   */
  match(method: string, path: string): Match<C> {
    const parts = split(path);
    const wanted = method === "HEAD" ? "GET" : method;
    const allowed = new Set<string>();
    let decoded: string[] | undefined;
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i += 1) {
        const segment = route.segments[i]!;
        if (segment.startsWith(":")) {
          decoded ??= parts.map(decodeSegment);
          const value = decoded[i]!;
          if (value === "") {
            ok = false;
            break;
          }
          params[segment.slice(1)] = value;
        } else if (segment !== parts[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method === wanted) return { route, params };
      allowed.add(route.method);
    }
    if (allowed.size > 0) {
      if (allowed.has("GET")) allowed.add("HEAD");
      const list = [...allowed].sort().join(", ");
      throw new HttpError(
        405,
        "METHOD_NOT_ALLOWED",
        `${method.slice(0, 20)} is not allowed on ${path.slice(0, 200)}. Use ${list}.`,
        { headers: { allow: list }, details: { allowed: [...allowed].sort() } },
      );
    }
    throw new HttpError(
      404,
      "NOT_FOUND",
      `no endpoint at ${path.slice(0, 200)}. See /openapi.json for the endpoints of this API.`,
    );
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw new HttpError(
      400,
      "BAD_REQUEST",
      `the path segment "${segment.slice(0, 100)}" is not valid percent-encoding. Encode it with encodeURIComponent.`,
      { cause },
    );
  }
}
