/**
 * `wsi serve` on a DICOM series (Orthanc's dicomizer series of CMU-1-Small-Region): Deep Zoom tiles
 * that are exactly one stored frame go out as the frame's JPEG bytes (X-Tile-Source: raw) with
 * readTile's pixels; other tiles are rendered.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide, type Slide } from '../pipeline/slide/index.ts';
import { openStore, type Store, upsertSlide } from '../pipeline/store/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { dzMaxLevel } from '../viewer/server/deepzoom.ts';
import { dicomize } from './helpers/dicomizer.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('viewer-dicom');
let viewer: RunningViewer;
let store: Store;
let slide: Slide;
let id: string;

beforeAll(async () => {
  const dir = path.join(tmp.path, 'cmu');
  await dicomize(CMU_SLIDE, dir, [], 2);
  store = openStore(path.join(tmp.path, 'v.sqlite'));
  slide = await openSlide(dir);
  id = upsertSlide(store, slide);
  // The frames are 240 px (CMU's own tiles): served at that tile size.
  viewer = await startViewer({
    store,
    openSlide,
    geometry: { tileSize: 240, overlap: 0 },
    port: 0,
    log: () => undefined,
  });
}, 60_000);

afterAll(async () => {
  await viewer?.close();
  await slide?.close();
  store?.close();
  tmp.cleanup();
});

async function fetchTile(level: number, col: number, row: number) {
  const res = await fetch(`${viewer.url}slides/${id}_files/${level}/${col}_${row}.jpeg`);
  expect(res.status).toBe(200);
  return { source: res.headers.get('x-tile-source'), body: new Uint8Array(await res.arrayBuffer()) };
}

describe('wsi serve on a DICOM series', () => {
  it('sends interior full-resolution frames raw, decoding to readTile’s pixels; edge tiles rendered', async () => {
    const max = dzMaxLevel(slide.width, slide.height);
    const t = await fetchTile(max, 3, 4);
    expect(t.source).toBe('raw');
    const decoded = await sharp(t.body).removeAlpha().raw().toBuffer();
    expect(Buffer.compare(decoded, Buffer.from((await slide.readTile(0, 3, 4)).data))).toBe(0);
    // 2220 = 9 × 240 + 60: the last column is cropped, so rendered.
    expect((await fetchTile(max, 9, 0)).source).toBe('rendered');
  });
});
