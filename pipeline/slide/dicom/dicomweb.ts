/**
 * DICOMweb: a series URL (…/studies/{study}/series/{series}) read through WADO-RS. The series'
 * /metadata gives the datasets; frames are fetched on demand (…/instances/{sop}/frames/{n}, as
 * stored: transfer-syntax=*), at most MAX_IN_FLIGHT requests at a time, into the slide's tile cache.
 */
import {
  DicomNotSlideError,
  MissingFrameError,
  SlideFormatError,
  SlideNotFoundError,
  WsiError,
} from '../../errors.ts';
import type { OpenOptions, Slide } from '../types.ts';
import { buildDicomSlide } from './build-slide.ts';
import { getString } from './dataset.ts';
import { datasetFromJson, type JsonDataset } from './dicom-json.ts';
import type { ImageData } from './image-data.ts';
import { checkWsiSopClass, describeInstance, type WsiInstance } from './instance.ts';
import { firstPart, transferSyntaxOf } from './multipart.ts';
import { chooseSeries, layoutSeries } from './series.ts';
import { T } from './tags.ts';

const MAX_IN_FLIGHT = 6;
const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

export function isDicomWebSeriesUrl(url: string): boolean {
  return /^https?:\/\/[^?#]*\/studies\/[^/?#]+\/series\/[^/?#]+\/?$/i.test(url);
}

/** At most n tasks at once; the rest wait in order. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function get(url: string, accept: string, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { headers: { Accept: accept }, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new SlideNotFoundError(`${url}: cannot connect (${(err as Error).message})`, { cause: err });
  }
}

interface FetchedFrame {
  bytes: Uint8Array;
  transferSyntax: string | undefined;
}

export async function openDicomWeb(seriesUrl: string, options: OpenOptions): Promise<Slide> {
  try {
    return await openSeries(seriesUrl, options);
  } catch (err) {
    if (err instanceof WsiError) throw err;
    throw new SlideFormatError(`${seriesUrl}: ${(err as Error).message}`, { cause: err });
  }
}

async function openSeries(seriesUrl: string, options: OpenOptions): Promise<Slide> {
  const base = seriesUrl.replace(/\/+$/, '');
  const limit = limiter(MAX_IN_FLIGHT);

  async function fetchFrame(
    sop: string,
    frame: number,
    where: string,
    signal?: AbortSignal,
  ): Promise<FetchedFrame> {
    const url = `${base}/instances/${sop}/frames/${frame + 1}`;
    return limit(async () => {
      const res = await get(url, FRAME_ACCEPT, signal);
      if (res.status === 404 || res.status === 410) {
        throw new MissingFrameError(`${where}: frame ${frame + 1} is not on the server (HTTP ${res.status})`);
      }
      if (!res.ok) throw new SlideFormatError(`${url}: HTTP ${res.status} ${res.statusText}`);
      const type = res.headers.get('content-type') ?? '';
      const part = firstPart(new Uint8Array(await res.arrayBuffer()), type, url);
      return {
        bytes: part.bytes,
        transferSyntax: transferSyntaxOf(part.contentType) ?? transferSyntaxOf(type),
      };
    });
  }

  const res = await get(`${base}/metadata`, 'application/dicom+json');
  if (res.status === 404 || res.status === 410)
    throw new SlideNotFoundError(`${base}: no such DICOMweb series (HTTP ${res.status})`);
  if (!res.ok) throw new SlideNotFoundError(`${base}/metadata: HTTP ${res.status} ${res.statusText}`);
  let json: unknown;
  try {
    json = await res.json();
  } catch (err) {
    throw new SlideFormatError(`${base}/metadata: not DICOM JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (!Array.isArray(json) || json.length === 0)
    throw new SlideNotFoundError(`${base}: the series has no instances`);
  const instances: WsiInstance[] = [];
  let notSlide: unknown;
  for (const item of json as JsonDataset[]) {
    const ds = datasetFromJson(item);
    const sop = getString(ds, T.SOPInstanceUID) ?? '';
    const where = `${base}/instances/${sop}`;
    try {
      checkWsiSopClass(getString(ds, T.SOPClassUID), where);
    } catch (err) {
      notSlide ??= err;
      continue;
    }
    // /metadata rarely carries the transfer syntax: the first frame's part says it.
    const ts = getString(ds, T.TransferSyntaxUID) ?? (await fetchFrame(sop, 0, where)).transferSyntax;
    if (!ts) throw new SlideFormatError(`${where}: the server does not say the frames' transfer syntax`);
    instances.push(describeInstance(ds, ts, where));
  }
  if (instances.length === 0)
    throw notSlide ?? new DicomNotSlideError(`${base}: no whole-slide images in the series`);
  const layout = layoutSeries(chooseSeries(instances, base), base);
  const data: ImageData = {
    async readFrame(inst, frame, signal) {
      try {
        return (await fetchFrame(inst.sopInstanceUid, frame, inst.where, signal)).bytes;
      } catch (err) {
        if (err instanceof WsiError || signal?.aborted) throw err;
        throw new SlideFormatError(`${inst.where}: frame ${frame + 1}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async close() {},
  };
  return buildDicomSlide(layout, data, seriesUrl, options);
}
