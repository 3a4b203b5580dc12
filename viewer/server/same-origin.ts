/**
 * Writes are accepted only from the viewer's own page. A browser always sends Origin on POST/PUT/DELETE
 * fetches; it must be exactly this server's origin (`http://` + Host), Sec-Fetch-Site (when sent) must say
 * same-origin, and on a loopback socket the Host itself must be a loopback name, so a page on another
 * domain that rebinds its DNS to 127.0.0.1 is refused too. No CORS headers are ever sent, so a cross-origin
 * page cannot read any answer either. Bodies must be JSON (a form post cannot set that type without a
 * preflight, which this server refuses).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http.ts';

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function checkSameOrigin(req: IncomingMessage): void {
  const host = req.headers.host;
  const origin = req.headers.origin;
  if (!host) throw new HttpError(403, 'write refused: no Host header');
  if (req.socket.localAddress && LOOPBACK_ADDRESS.test(req.socket.localAddress)) {
    const port = req.socket.localPort;
    const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
    if (!allowed.includes(host.toLowerCase()))
      throw new HttpError(403, 'write refused: Host is not this server');
  }
  if (!origin || origin !== `http://${host}`)
    throw new HttpError(403, 'write refused: cross-origin request (only the viewer page may write)');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin')
    throw new HttpError(403, `write refused: Sec-Fetch-Site ${site}`);
}

/** Reads a JSON body of at most `limit` bytes; 415 for another content type, 413 when too large, 400 when malformed. */
export async function readJsonBody(req: IncomingMessage, limit = 256 * 1024): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'body must be application/json');
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}
