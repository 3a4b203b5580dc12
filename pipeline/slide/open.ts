/**
 * openSlide(): sniff the first bytes, then run the one reader that matches (explicit, ordered probes:
 * TIFF family, PNG, JPEG). Missing paths, empty files and unknown formats get named errors.
 *
 * The DICOM and DICOMweb readers are imported when a file needs them, so `wsi info slide.svs` does not
 * load them (start-up time of short commands, bench/cli-start.ts). The TIFF and PNG/JPEG readers stay
 * static imports: they share most of their modules, and each chunk loaded on its own costs more than
 * the code it would leave out.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { SlideFormatError, SlideNotFoundError } from '../errors.ts';
import { hasPreamble } from './dicom/preamble.ts';
import { openImageSlide } from './image.ts';
import { openTiffSlide } from './tiff/open-tiff.ts';
import type { OpenOptions, Slide } from './types.ts';

type Kind = 'tiff' | 'png' | 'jpeg';

function sniff(head: Uint8Array): Kind | undefined {
  const b = head;
  if (b.length >= 4) {
    if (b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) return 'tiff';
    if (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)) return 'tiff';
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return undefined;
}

function describeHead(head: Uint8Array): string {
  return Array.from(head.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

async function fetchOrThrow(url: string, headers: Record<string, string>): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (err) {
    throw new SlideNotFoundError(`${url}: cannot connect (${(err as Error).message})`, { cause: err });
  }
  if (res.status === 404 || res.status === 410)
    throw new SlideNotFoundError(`${url}: not found (HTTP ${res.status})`);
  if (!res.ok) throw new SlideNotFoundError(`${url}: HTTP ${res.status} ${res.statusText}`);
  return res;
}

/** The first n bytes of a response body, then the rest is cancelled (a server that ignores Range sends it all). */
async function firstBytes(res: Response, n: number): Promise<Uint8Array> {
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { done, value } = await reader.read();
    if (done || !value) break;
    const take = Math.min(n - got, value.length);
    out.set(value.subarray(0, take), got);
    got += take;
  }
  await reader.cancel().catch(() => {});
  return out.subarray(0, got);
}

async function openUrl(url: string, options: OpenOptions): Promise<Slide> {
  const dicomweb = await import('./dicom/dicomweb.ts');
  if (dicomweb.isDicomWebSeriesUrl(url)) return dicomweb.openDicomWeb(url, options);
  const res = await fetchOrThrow(url, { Range: 'bytes=0-15' });
  const head = await firstBytes(res, 16);
  const total = Number(res.headers.get('content-range')?.split('/')[1]);
  const fileSize = Number.isFinite(total) && total > 0 ? total : undefined;
  if (head.length === 0) throw new SlideFormatError(`${url}: empty file (0 bytes)`);
  const kind = sniff(head);
  if (kind === 'tiff') return openTiffSlide({ location: url, isUrl: true, fileSize, options });
  if (kind === 'png' || kind === 'jpeg') {
    const whole = await fetchOrThrow(url, {});
    return openImageSlide(url, new Uint8Array(await whole.arrayBuffer()), kind, options);
  }
  throw new SlideFormatError(`${url}: not a TIFF, PNG or JPEG file (starts with ${describeHead(head)})`);
}

async function openPath(path: string, options: OpenOptions): Promise<Slide> {
  let size: number;
  let isFolder = false;
  try {
    const st = statSync(path);
    isFolder = st.isDirectory();
    if (!st.isFile() && !isFolder) throw new SlideNotFoundError(`${path}: not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof SlideNotFoundError) throw err;
    throw new SlideNotFoundError(`${path}: no such file`, { cause: err });
  }
  // A folder is a DICOM series (the only format that spans files).
  if (isFolder) return (await import('./dicom/open-files.ts')).openDicomPath(path, options);
  if (size === 0) throw new SlideFormatError(`${path}: empty file (0 bytes)`);
  // A synchronous read of 132 bytes costs microseconds, less than loading fs/promises for it.
  const fd = openSync(path, 'r');
  let head: Uint8Array;
  try {
    const buf = new Uint8Array(132);
    head = buf.subarray(0, readSync(fd, buf, 0, 132, 0));
  } finally {
    closeSync(fd);
  }
  if (hasPreamble(head)) return (await import('./dicom/open-files.ts')).openDicomPath(path, options);
  const kind = sniff(head);
  if (kind === 'tiff') return openTiffSlide({ location: path, isUrl: false, fileSize: size, options });
  if (kind === 'png' || kind === 'jpeg') {
    const { readFile } = await import('node:fs/promises');
    return openImageSlide(path, new Uint8Array(await readFile(path)), kind, options);
  }
  throw new SlideFormatError(
    `${path}: not a TIFF, PNG or JPEG file, nor DICOM (starts with ${describeHead(head)})`,
  );
}

export async function openSlide(pathOrUrl: string, options: OpenOptions = {}): Promise<Slide> {
  if (typeof pathOrUrl !== 'string' || pathOrUrl === '') throw new SlideNotFoundError('no slide path given');
  return isUrl(pathOrUrl) ? openUrl(pathOrUrl, options) : openPath(pathOrUrl, options);
}
