/**
 * The viewer's routes: regular expressions over the raw request path (already screened by app.ts
 * for traversal and encoding tricks) and their handlers. Slide ids are looked up in the store before
 * anything is opened; numeric parts are bounded before use.
 */
import { WsiError } from '../../pipeline/errors.ts';
import { HttpError } from './http.ts';
import type { Handler } from './route-kit.ts';
import { ANNOTATION_READ_ROUTES } from './routes-annotations.ts';
import { OVERLAY_ROUTES } from './routes-overlays.ts';
import { SLIDE_ROUTES } from './routes-slides.ts';

export type { RouteContext } from './route-kit.ts';

export const ROUTES: [RegExp, Handler][] = [...SLIDE_ROUTES, ...OVERLAY_ROUTES, ...ANNOTATION_READ_ROUTES];

/** Errors from the reader for a registered slide: its file moved, or a read beyond what it has. */
export function statusOfReaderError(err: unknown): HttpError | undefined {
  if (!(err instanceof WsiError)) return undefined;
  if (err.code === 'SLIDE_NOT_FOUND') return new HttpError(404, 'slide file is no longer available');
  if (err.code === 'READ_RANGE') return new HttpError(400, err.message.split('\n')[0]);
  return new HttpError(500, `cannot read slide: ${err.code}`);
}
