/** Small response helpers shared by the viewer's routes. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error a route raises on purpose: status + one-line message, sent as JSON. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message, status });
}

export interface BodyOptions {
  contentType: string;
  /** Long-lived content-addressed responses get an ETag and a long max-age. */
  etag?: string;
  cacheControl?: string;
  extraHeaders?: Record<string, string>;
}

export function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer | string,
  o: BodyOptions,
): void {
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'Content-Type': o.contentType,
    'Cache-Control': o.cacheControl ?? 'no-cache',
    ...o.extraHeaders,
  };
  if (o.etag) {
    headers.ETag = o.etag;
    if (req.headers['if-none-match'] === o.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
  }
  headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(200, headers);
  res.end(body);
}

/** A non-negative integer from a URL segment or query value, or undefined if it is not one / exceeds max. */
export function parseIndex(s: string | null | undefined, max: number): number | undefined {
  if (s == null || !/^\d{1,9}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** A finite number within ±limit from a query value. */
export function parseCoord(s: string | null, name: string, limit = 1e7): number {
  if (s == null || s.trim() === '' || s.length > 24) throw new HttpError(400, `query '${name}' is required`);
  const n = Number(s);
  if (!Number.isFinite(n) || Math.abs(n) > limit)
    throw new HttpError(400, `query '${name}' is not a sane number`);
  return n;
}

/** An optional integer query value in [min, max]; default when absent. */
export function queryInt(q: URLSearchParams, name: string, min: number, max: number, dflt: number): number {
  const s = q.get(name);
  if (s === null) return dflt;
  const n = parseIndex(s, max);
  if (n === undefined || n < min)
    throw new HttpError(400, `query '${name}' must be an integer in [${min}, ${max}]`);
  return n;
}
