/**
 * The raw-tile fast path of `wsi serve`: a Deep Zoom JPEG tile that is exactly one stored JPEG tile
 * is sent as the stored bytes (X-Tile-Source: raw), with the same pixels the rendered path reads;
 * every other tile is rendered as before.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePyramidTiff } from '../fixtures/tiff-writer.ts';
import { openSlide, type Slide } from '../pipeline/slide/index.ts';
import { openStore, type Store, upsertSlide } from '../pipeline/store/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { type DzGeometry, dzMaxLevel, storedTileFor } from '../viewer/server/deepzoom.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';
import { codedPattern, patternTile } from './helpers/synthetic.ts';

const tmp = tempDir('viewer-raw-tile');

interface Served {
  viewer: RunningViewer;
  store: Store;
  slide: Slide;
  id: string;
}

async function serve(file: string, geometry: DzGeometry, db: string): Promise<Served> {
  const store = openStore(path.join(tmp.path, db));
  const slide = await openSlide(file);
  const id = upsertSlide(store, slide);
  const viewer = await startViewer({ store, openSlide, geometry, port: 0, log: () => undefined });
  return { viewer, store, slide, id };
}

let synth: Served;
let cmu: Served;
// 1100×700, 256-px tiles, 3 levels (1100×700, 550×350, 275×175): interior and edge tiles at each level.
const W = 1100;
const H = 700;

beforeAll(async () => {
  const file = path.join(tmp.path, 'synth-jpeg.tif');
  await writePyramidTiff(file, {
    width: W,
    height: H,
    tileSize: 256,
    levels: 3,
    compression: 'jpeg',
    jpegQuality: 90,
    flavour: 'generic',
    mpp: 0.25,
    tile: patternTile(codedPattern),
  });
  synth = await serve(file, { tileSize: 256, overlap: 0 }, 'synth.sqlite');
  // CMU-1-Small-Region.svs stores 240-px photometric-RGB JPEG tiles: served at its own tile size.
  cmu = await serve(CMU_SLIDE, { tileSize: 240, overlap: 0 }, 'cmu.sqlite');
});

afterAll(async () => {
  for (const s of [synth, cmu]) {
    await s?.viewer.close();
    await s?.slide.close();
    s?.store.close();
  }
  tmp.cleanup();
});

async function fetchTile(s: Served, level: number, col: number, row: number, ext = 'jpeg') {
  const res = await fetch(`${s.viewer.url}slides/${s.id}_files/${level}/${col}_${row}.${ext}`);
  expect(res.status).toBe(200);
  return {
    source: res.headers.get('x-tile-source'),
    etag: res.headers.get('etag'),
    type: res.headers.get('content-type'),
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

async function pixels(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes).removeAlpha().raw().toBuffer();
}

describe('raw-tile fast path', () => {
  it('sends an exactly matching full-resolution tile as the stored JPEG, with readTile’s pixels', async () => {
    const max = dzMaxLevel(W, H);
    const before = synth.viewer.tiles.counts.raw;
    const t = await fetchTile(synth, max, 1, 1);
    expect(t.source).toBe('raw');
    expect(t.type).toBe('image/jpeg');
    expect(synth.viewer.tiles.counts.raw).toBe(before + 1);
    // The stored bytes, unchanged (no decode, no re-encode) ...
    const stored = await synth.slide.readRawTile?.(0, 1, 1);
    expect(Buffer.compare(Buffer.from(t.body), Buffer.from(stored?.bytes ?? []))).toBe(0);
    // ... decoding to the pixels the rendered path reads: the reader's tile, and the lossless PNG tile.
    const decoded = await pixels(t.body);
    expect(Buffer.compare(decoded, Buffer.from((await synth.slide.readTile(0, 1, 1)).data))).toBe(0);
    const png = await fetchTile(synth, max, 1, 1, 'png');
    expect(png.source).toBe('rendered');
    expect(Buffer.compare(decoded, await pixels(png.body))).toBe(0);
  });

  it('uses the stored tile at a mid level whose downsample is exactly the Deep Zoom scale', async () => {
    const t = await fetchTile(synth, dzMaxLevel(W, H) - 1, 1, 0);
    expect(t.source).toBe('raw');
    const decoded = await pixels(t.body);
    expect(Buffer.compare(decoded, Buffer.from((await synth.slide.readTile(1, 1, 0)).data))).toBe(0);
  });

  it('renders edge tiles, levels without a matching slide level, and PNG requests as before', async () => {
    const max = dzMaxLevel(W, H);
    // Right-edge tile (1100 = 4 × 256 + 76): cropped, so rendered; 76 px wide.
    const edge = await fetchTile(synth, max, 4, 0);
    expect(edge.source).toBe('rendered');
    expect((await sharp(edge.body).metadata()).width).toBe(76);
    // DZ scale 8: no slide level has downsample 8 (the pyramid stops at 4).
    expect((await fetchTile(synth, max - 3, 0, 0)).source).toBe('rendered');
    expect((await fetchTile(synth, max, 0, 0, 'png')).source).toBe('rendered');
  });

  it('caches raw tiles in the encoded-tile LRU under the same ETag scheme (304 on revalidation)', async () => {
    const max = dzMaxLevel(W, H);
    const first = await fetchTile(synth, max, 2, 1);
    expect(first.source).toBe('raw');
    expect(first.etag).toBe(synth.viewer.tiles.etag(synth.id, max, 2, 1, 'jpeg'));
    const raw = synth.viewer.tiles.counts.raw;
    const again = await fetchTile(synth, max, 2, 1);
    expect(Buffer.compare(Buffer.from(again.body), Buffer.from(first.body))).toBe(0);
    expect(again.source).toBe('raw');
    expect(synth.viewer.tiles.counts.raw).toBe(raw); // served from the cache, not read again
    const res = await fetch(`${synth.viewer.url}slides/${synth.id}_files/${max}/2_1.jpeg`, {
      headers: { 'If-None-Match': first.etag ?? '' },
    });
    expect(res.status).toBe(304);
  });

  it('CMU-1-Small-Region.svs (RGB JPEG, 240-px tiles): raw tiles decode to the right colours', async () => {
    const max = dzMaxLevel(cmu.slide.width, cmu.slide.height);
    const t = await fetchTile(cmu, max, 3, 4);
    expect(t.source).toBe('raw');
    const decoded = await pixels(t.body);
    expect(Buffer.compare(decoded, Buffer.from((await cmu.slide.readTile(0, 3, 4)).data))).toBe(0);
    // The last column extends past the 2220-px width (9 × 240 = 2160): rendered and cropped.
    const edge = await fetchTile(cmu, max, 9, 4);
    expect(edge.source).toBe('rendered');
    expect((await sharp(edge.body).metadata()).width).toBe(60);
  });
});

describe('storedTileFor (which Deep Zoom tiles are exactly one stored tile)', () => {
  const levels = [
    { width: 1024, height: 512, downsample: 1, tileWidth: 256, tileHeight: 256 },
    { width: 512, height: 256, downsample: 2, tileWidth: 256, tileHeight: 256 },
  ];
  const g = { tileSize: 256, overlap: 0 };
  it('maps full-resolution and exact-downsample tiles, nothing else', () => {
    expect(storedTileFor(1024, 512, levels, 10, 3, 1, g)).toEqual({ level: 0, col: 3, row: 1 });
    expect(storedTileFor(1024, 512, levels, 9, 1, 0, g)).toEqual({ level: 1, col: 1, row: 0 });
    // Overlap, another tile size, or a level whose downsample is only close to the scale: no.
    expect(storedTileFor(1024, 512, levels, 10, 3, 1, { tileSize: 256, overlap: 1 })).toBeUndefined();
    expect(storedTileFor(1024, 512, levels, 10, 1, 1, { tileSize: 128, overlap: 0 })).toBeUndefined();
    const near = [levels[0], { ...levels[1], downsample: 2.001 }];
    expect(storedTileFor(1024, 512, near, 9, 0, 0, g)).toBeUndefined();
    // Outside the pyramid.
    expect(storedTileFor(1024, 512, levels, 10, 4, 0, g)).toBeUndefined();
    expect(storedTileFor(1024, 512, levels, 11, 0, 0, g)).toBeUndefined();
  });
});
