/**
 * Annotations on the slide page: the list (imported files and viewer drawings, with author and time), and
 * the writes for drawings: POST creates, PUT edits, PATCH moves vertices ({coords, author}: the geometry kind
 * and class stay as stored, the new outline is checked as a drawing of that kind), DELETE removes. Writes go
 * through checkSameOrigin and a validated JSON body; a refused or malformed request changes nothing.
 */
import { parseDrawnAnnotation, VIEWER_SOURCE } from '../../pipeline/annotations/drawn.ts';
import { WsiError } from '../../pipeline/errors.ts';
import { loadAnnotations } from '../../pipeline/store/annotations-queries.ts';
import {
  createDrawnAnnotation,
  type DrawnWriteResult,
  deleteDrawnAnnotation,
  editableDrawnAnnotation,
  updateDrawnAnnotation,
} from '../../pipeline/store/drawn-annotations.ts';
import type { SlideRow } from '../../pipeline/store/slides.ts';
import { HttpError, parseIndex, sendJson } from './http.ts';
import { type Handler, ID, type Request, type RouteContext, requireRow } from './route-kit.ts';
import { checkSameOrigin, readJsonBody } from './same-origin.ts';

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const COLLECTION = new RegExp(`^/api/slides/${ID}/annotations$`);
const ITEM = new RegExp(`^/api/slides/${ID}/annotations/(\\d{1,9})$`);

function annotationsJson(ctx: RouteContext, slideId: string) {
  return loadAnnotations(ctx.store, slideId).map((a) => ({
    id: a.id,
    name: a.name,
    group: a.group,
    class: a.class,
    label: a.source === VIEWER_SOURCE ? a.group : null,
    geometry: a.geometry,
    coords: a.coords,
    source: a.source,
    author: a.author,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    editable: a.source === VIEWER_SOURCE,
  }));
}

function oneJson(ctx: RouteContext, slideId: string, id: number) {
  const a = annotationsJson(ctx, slideId).find((x) => x.id === id);
  if (!a) throw new HttpError(404, 'no such annotation');
  return a;
}

function parsed(body: unknown, row: SlideRow) {
  try {
    return parseDrawnAnnotation(body, row);
  } catch (err) {
    if (err instanceof WsiError) throw new HttpError(400, err.message);
    throw err;
  }
}

async function drawnBody(r: Request, row: SlideRow) {
  return parsed(await readJsonBody(r.req), row);
}

/** A vertex edit: the stored drawing with the body's coordinates (and editor), checked as a whole drawing. */
async function movedBody(ctx: RouteContext, r: Request, row: SlideRow, id: number) {
  const body = await readJsonBody(r.req);
  const stored = editableDrawnAnnotation(ctx.store, row.id, id);
  if (typeof stored === 'string') refused(stored);
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'body must be a JSON object');
  const extra = Object.keys(body).find((k) => k !== 'coords' && k !== 'author');
  if (extra) throw new HttpError(400, `unknown field '${extra}' (a vertex edit sends coords and author)`);
  const b = body as { coords?: unknown; author?: unknown };
  return parsed({ geometry: stored.geometry, label: stored.label, author: b.author, coords: b.coords }, row);
}

function refused(result: Exclude<DrawnWriteResult, 'ok'>): never {
  if (result === 'missing') throw new HttpError(404, 'no such annotation on this slide');
  throw new HttpError(409, 'annotations imported from a file are read-only here');
}

function outcome(result: DrawnWriteResult): void {
  if (result !== 'ok') refused(result);
}

export const ANNOTATION_READ_ROUTES: [RegExp, Handler][] = [
  [COLLECTION, (ctx, r) => sendJson(r.res, 200, annotationsJson(ctx, requireRow(ctx, r.match[1]).id))],
];

/** Whether a write method may be sent to this path at all (screening, before any routing). */
export function isWritePath(method: string, path: string): method is WriteMethod {
  if (method === 'POST') return COLLECTION.test(path);
  if (method === 'PUT' || method === 'PATCH' || method === 'DELETE') return ITEM.test(path);
  return false;
}

export async function handleAnnotationWrite(
  ctx: RouteContext,
  method: WriteMethod,
  r: Omit<Request, 'match'>,
  path: string,
) {
  checkSameOrigin(r.req);
  const match = (method === 'POST' ? COLLECTION : ITEM).exec(path);
  if (!match) throw new HttpError(404, 'not found');
  const req = { ...r, match };
  const row = requireRow(ctx, match[1]);
  if (method === 'POST') {
    const input = await drawnBody(req, row);
    const id = createDrawnAnnotation(ctx.store, row.id, input);
    return sendJson(r.res, 201, oneJson(ctx, row.id, id));
  }
  const id = parseIndex(match[2], 2 ** 31);
  if (id === undefined) throw new HttpError(404, 'no such annotation');
  if (method === 'PUT') {
    const input = await drawnBody(req, row);
    outcome(updateDrawnAnnotation(ctx.store, row.id, id, input));
    return sendJson(r.res, 200, oneJson(ctx, row.id, id));
  }
  if (method === 'PATCH') {
    outcome(updateDrawnAnnotation(ctx.store, row.id, id, await movedBody(ctx, req, row, id)));
    return sendJson(r.res, 200, oneJson(ctx, row.id, id));
  }
  outcome(deleteDrawnAnnotation(ctx.store, row.id, id));
  sendJson(r.res, 200, { deleted: id });
}
