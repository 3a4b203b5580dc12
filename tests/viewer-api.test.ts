/**
 * The viewer's HTTP API against a server on an ephemeral port over real slides and fixture runs:
 * routes scripts rely on, Deep Zoom tiles checked against the reader, overlays checked against the
 * rows they come from, and every security case of issue 4.
 */
import { mkdtempSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourOf } from '../pipeline/imaging/viridis.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { buildViewerFixture, PATCH, type ViewerFixture } from './fixtures/viewer-fixtures.ts';

let fx: ViewerFixture;
let viewer: RunningViewer;
let base: string;
const opened: string[] = [];
let cmu: Slide;

beforeAll(async () => {
  fx = await buildViewerFixture(join(mkdtempSync(join(tmpdir(), 'wsi-viewer-api-')), 'v.sqlite'));
  viewer = await startViewer({
    store: fx.store,
    openSlide: (path) => {
      opened.push(path);
      return openSlide(path);
    },
    port: 0,
    log: () => undefined,
  });
  base = viewer.url.replace(/\/$/, '');
  cmu = await openSlide(join(import.meta.dirname, '../fixtures/slides/CMU-1-Small-Region.svs'));
});

afterAll(async () => {
  await viewer?.close();
  await cmu?.close();
  fx?.store.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);

async function rawRequest(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(viewer.port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    sock.on('error', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.write(bytes, 'latin1');
    setTimeout(() => sock.destroy(), 1500);
  });
}

describe('slides and Deep Zoom', () => {
  it('lists registered slides with id, name, size and MPP (null when the file has none)', async () => {
    const res = await get('/api/slides');
    expect(res.status).toBe(200);
    const list = (await res.json()) as {
      id: string;
      name: string;
      width: number;
      height: number;
      mpp: number | null;
    }[];
    const byName = new Map(list.map((s) => [s.name, s]));
    expect(byName.get('CMU-1-Small-Region.svs')).toMatchObject({
      id: fx.cmuId,
      width: 2220,
      height: 2967,
      mpp: 0.499,
    });
    expect(byName.get('tcga-cr-7395-01a-01-ts1.svs')).toMatchObject({ width: 4443, height: 3567, mpp: null });
  });

  it('serves the .dzi descriptor and full-resolution PNG tiles equal to the reader’s pixels', async () => {
    const dzi = await (await get(`/slides/${fx.cmuId}.dzi`)).text();
    expect(dzi).toContain('TileSize="256"');
    expect(dzi).toContain('Overlap="0"');
    expect(dzi).toContain('<Size Width="2220" Height="2967"/>');
    const res = await get(`/slides/${fx.cmuId}_files/12/3_4.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const tile = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([tile.info.width, tile.info.height]).toEqual([256, 256]);
    const ref = await cmu.readRegion({ x: 3 * 256, y: 4 * 256, width: 256, height: 256, level: 0 });
    expect(Buffer.compare(Buffer.from(tile.data), Buffer.from(ref.data))).toBe(0);
  });

  it('serves downsampled JPEG tiles close to a resized region, edge tiles clipped, with ETag and long caching', async () => {
    // DZ level 10 = 1/4 scale: 555×742 px; tile (2, 2) is the bottom-right corner.
    const res = await get(`/slides/${fx.cmuId}_files/10/2_2.jpeg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('max-age=31536000');
    const etag = res.headers.get('etag')!;
    expect(etag).toContain(fx.cmuId);
    const tile = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([tile.info.width, tile.info.height]).toEqual([555 - 512, 742 - 512]);
    const x0 = 512 * 4;
    const ref = await cmu.readRegion({ x: x0, y: x0, width: 2220 - x0, height: 2967 - x0, level: 0 });
    const expected = await sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: 3 } })
      .resize(tile.info.width, tile.info.height, { fit: 'fill' })
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff += Math.abs(expected[i] - tile.data[i]);
    expect(diff / expected.length).toBeLessThan(6);
    const again = await get(`/slides/${fx.cmuId}_files/10/2_2.jpeg`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });

  it('gives a whole-slide 1×1 tile at level 0 and a JPEG thumbnail', async () => {
    const t0 = await sharp(
      Buffer.from(await (await get(`/slides/${fx.cmuId}_files/0/0_0.jpeg`)).arrayBuffer()),
    ).metadata();
    expect([t0.width, t0.height]).toEqual([1, 1]);
    const th = await get(`/api/slides/${fx.cmuId}/thumbnail.jpeg`);
    expect(th.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await th.arrayBuffer())).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(320);
  });

  it('composes low levels from finer tiles when a direct read would be too large (bounded memory)', async () => {
    // DZ level 8 of CMU (1/16) would read the whole 2220×2967 level 0 at once: it is built from level 9.
    const res = await get(`/slides/${fx.cmuId}_files/8/0_0.png`);
    const tile = await sharp(Buffer.from(await res.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([tile.info.width, tile.info.height]).toEqual([139, 186]);
    const whole = await cmu.readRegion({ x: 0, y: 0, width: 2220, height: 2967, level: 0 });
    const expected = await sharp(whole.data, { raw: { width: 2220, height: 2967, channels: 3 } })
      .resize(139, 186, { fit: 'fill' })
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff += Math.abs(expected[i] - tile.data[i]);
    expect(diff / expected.length).toBeLessThan(4);
  });

  it('crops a patch region for the gallery at the requested size', async () => {
    const p = fx.patches[0];
    const res = await get(
      `/api/slides/${fx.cmuId}/region.jpeg?x=${p.x}&y=${p.y}&w=${PATCH}&h=${PATCH}&size=128`,
    );
    expect(res.status).toBe(200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
    expect((await get(`/api/slides/${fx.cmuId}/region.jpeg?x=2000&y=0&w=512&h=512`)).status).toBe(400);
  });
});

describe('overlays', () => {
  it('lists the runs with data on a slide', async () => {
    const detail = (await (await get(`/api/slides/${fx.cmuId}`)).json()) as {
      runs: { runId: number; scored: number; attended: number; slideScore: number | null }[];
      annotations: number;
    };
    const infer = detail.runs.find((r) => r.runId === fx.inferRunId)!;
    const mil = detail.runs.find((r) => r.runId === fx.milRunId)!;
    expect(infer.scored).toBe(fx.patches.length);
    expect(mil.attended).toBe(fx.patches.length);
    expect(mil.slideScore).toBeCloseTo(0.87);
    expect(detail.annotations).toBe(1);
  });

  it('renders a one-pixel-per-patch viridis heatmap, transparent where there is no tissue patch', async () => {
    const info = (await (
      await get(`/api/runs/${fx.inferRunId}/slides/${fx.cmuId}/heatmap.json?value=score`)
    ).json()) as {
      x: number;
      y: number;
      columns: number;
      rows: number;
      strideX: number;
      patches: number;
    };
    expect(info).toMatchObject({
      x: Math.min(...fx.patches.map((p) => p.x)),
      y: Math.min(...fx.patches.map((p) => p.y)),
      strideX: PATCH,
      patches: fx.patches.length,
    });
    const png = await get(`/api/runs/${fx.inferRunId}/slides/${fx.cmuId}/heatmap.png?value=score`);
    const { data, info: meta } = await sharp(Buffer.from(await png.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([meta.width, meta.height, meta.channels]).toEqual([info.columns, info.rows, 4]);
    const px = (x: number, y: number) => {
      const o = ((Math.round((y - info.y) / PATCH) * meta.width + Math.round((x - info.x) / PATCH)) *
        4) as number;
      return [data[o], data[o + 1], data[o + 2], data[o + 3]];
    };
    for (const p of fx.patches.slice(0, 20)) expect(px(p.x, p.y)).toEqual([...colourOf(p.score), 255]);
    // Background patches inside the heatmap's bounding box are the holes that must stay transparent.
    const holes = fx.background.filter(
      (b) =>
        b.x >= info.x &&
        b.y >= info.y &&
        b.x < info.x + info.columns * PATCH &&
        b.y < info.y + info.rows * PATCH,
    );
    expect(holes.length).toBeGreaterThan(0);
    for (const b of holes) expect(px(b.x, b.y)[3]).toBe(0);
    expect((await get(`/api/runs/${fx.inferRunId}/slides/${fx.cmuId}/heatmap.png?value=bogus`)).status).toBe(
      400,
    );
    // range=data stretches the colour map over the values present (weak models with narrow ranges).
    const stretched = (await (
      await get(`/api/runs/${fx.inferRunId}/slides/${fx.cmuId}/heatmap.json?value=score&range=data`)
    ).json()) as { lo: number; hi: number; min: number; max: number };
    expect([stretched.lo, stretched.hi]).toEqual([stretched.min, stretched.max]);
    expect((await get(`/api/runs/${fx.inferRunId}/slides/${fx.cmuId}/heatmap.json?range=wide`)).status).toBe(
      400,
    );
    expect((await get(`/api/runs/${fx.inferRunId}/slides/${fx.tcgaId}/heatmap.png`)).status).toBe(404);
  });

  it('returns cells inside a viewport box from the R*Tree, with a limit and the true total', async () => {
    const img = fx.wellImages[0];
    const box = { x0: 0, y0: 0, x1: 128, y1: 128 };
    const expected = img.dots.filter((d) => d.x + 0.5 <= 128 && d.y + 0.5 <= 128).length;
    const res = (await (
      await get(`/api/runs/${fx.countRunId}/slides/${img.slideId}/cells?x0=0&y0=0&x1=128&y1=128`)
    ).json()) as { total: number; truncated: boolean; cells: { x: number; y: number }[] };
    expect(res.total).toBe(expected);
    expect(res.cells.length).toBe(expected);
    expect(res.cells.every((c) => c.x >= box.x0 && c.x <= box.x1 && c.y >= box.y0 && c.y <= box.y1)).toBe(
      true,
    );
    const limited = (await (
      await get(`/api/runs/${fx.countRunId}/slides/${img.slideId}/cells?x0=0&y0=0&x1=256&y1=256&limit=5`)
    ).json()) as { total: number; truncated: boolean; cells: unknown[] };
    expect(limited).toMatchObject({ total: img.dots.length, truncated: true });
    expect(limited.cells).toHaveLength(5);
    expect(
      (await get(`/api/runs/${fx.countRunId}/slides/${img.slideId}/cells?x0=0&y0=0&x1=NaN&y1=1`)).status,
    ).toBe(400);
    expect(
      (await get(`/api/runs/${fx.countRunId}/slides/${img.slideId}/cells?x0=0&y0=0&x1=1e300&y1=1`)).status,
    ).toBe(400);
  });

  it('serves annotation outlines, top-k attention in order, and the plate grid', async () => {
    const anns = (await (await get(`/api/slides/${fx.cmuId}/annotations`)).json()) as {
      coords: number[][];
    }[];
    expect(anns[0].coords).toEqual(fx.annotation);
    const top = (await (
      await get(`/api/runs/${fx.milRunId}/slides/${fx.cmuId}/top-attention?k=5`)
    ).json()) as {
      x: number;
      y: number;
      attention: number;
    }[];
    const best = [...fx.patches].sort((a, b) => b.attention - a.attention)[0];
    expect(top).toHaveLength(5);
    expect([top[0].x, top[0].y]).toEqual([best.x, best.y]);
    expect(top.map((t) => t.attention)).toEqual([...top.map((t) => t.attention)].sort((a, b) => b - a));
    const plates = (await (await get('/api/plates')).json()) as { runId: number; plates: string[] }[];
    expect(plates).toContainEqual(expect.objectContaining({ runId: fx.countRunId, plates: ['P1', 'P384'] }));
    const plate = (await (await get(`/api/runs/${fx.countRunId}/wells?plate=P1`)).json()) as {
      rows: number;
      cols: number;
      wells: { well: string; count: number; images: { slideId: string }[] }[];
    };
    expect([plate.rows, plate.cols]).toEqual([8, 12]);
    expect(plate.wells).toHaveLength(96);
    const a1 = plate.wells.find((w) => w.well === 'A01')!;
    expect(a1.count).toBe(fx.wellCounts.get('A01'));
    expect(a1.images[0].slideId).toBe(fx.wellImages[0].slideId);
    expect((await get(`/api/runs/${fx.countRunId}/wells?plate=nope`)).status).toBe(404);
    const big = (await (await get(`/api/runs/${fx.countRunId}/wells?plate=P384`)).json()) as {
      rows: number;
      cols: number;
      wells: unknown[];
    };
    expect([big.rows, big.cols, big.wells.length]).toEqual([16, 24, 384]);
  });
});

/** GET from a given local address (another "client" on the loopback network); resolves with the body size. */
function getFrom(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { localAddress, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
      });
      res.on('end', () => resolve(res.statusCode === 200 ? n : -res.statusCode!));
    }).on('error', reject);
  });
}

describe('render fairness', () => {
  it('serves a second client’s tile while the first client still has dozens queued', async () => {
    const fair = await startViewer({
      store: fx.store,
      openSlide: (p) => openSlide(p),
      port: 0,
      concurrency: 1,
      log: () => undefined,
    });
    try {
      const done: string[] = [];
      const flood = Array.from({ length: 40 }, (_, i) =>
        getFrom('127.0.0.1', `${fair.url}slides/${fx.cmuId}_files/12/${i % 9}_${Math.floor(i / 9)}.png`).then(
          (n) => {
            expect(n).toBeGreaterThan(0);
            done.push('flood');
          },
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      const other = getFrom('127.0.0.2', `${fair.url}slides/${fx.cmuId}_files/12/8_11.jpeg`).then((n) => {
        expect(n).toBeGreaterThan(0);
        done.push('other');
      });
      await Promise.all([...flood, other]);
      expect(done.indexOf('other')).toBeLessThan(20);
    } finally {
      await fair.close();
    }
  });
});

describe('security', () => {
  it('answers unknown ids with 404 without opening anything', async () => {
    const before = opened.length;
    for (const path of [
      '/slides/deadbeef.dzi',
      '/slides/deadbeef_files/10/0_0.jpeg',
      '/api/slides/deadbeef',
      '/api/slides/deadbeef/thumbnail.jpeg',
      '/api/runs/999999/slides/deadbeef/heatmap.png',
      `/api/runs/999999/slides/${fx.cmuId}/heatmap.png`,
      '/api/runs/999999/wells?plate=P1',
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
    expect(opened.length).toBe(before);
  });

  it('refuses traversal: .., %2e%2e, encoded slashes and backslashes', async () => {
    // fetch() normalises '..' away, so these go over a raw socket exactly as written.
    for (const path of [
      '/slides/../../../etc/passwd',
      '/slides/%2e%2e/%2e%2e/etc/passwd',
      '/slides/%2E%2E%2Fetc%2Fpasswd.dzi',
      `/slides/${fx.cmuId}%2f..%2f..%2fetc.dzi`,
      '/assets/..%5c..%5cpackage.json',
      '/assets/osd/../../../package.json',
    ]) {
      const reply = await rawRequest(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(reply.split('\r\n')[0], path).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect((await get('/assets/package.json')).status).toBe(404);
    expect((await get('/assets/osd/package.json')).status).toBe(404);
  });

  it('answers absurd levels and coordinates with 404/400', async () => {
    for (const path of [
      `/slides/${fx.cmuId}_files/13/0_0.jpeg`,
      `/slides/${fx.cmuId}_files/999/0_0.jpeg`,
      `/slides/${fx.cmuId}_files/12/9_0.jpeg`,
      `/slides/${fx.cmuId}_files/12/0_99999.jpeg`,
      `/slides/${fx.cmuId}_files/12/99999999999999999999_0.jpeg`,
      `/slides/${fx.cmuId}_files/12/-1_0.jpeg`,
      `/slides/${fx.cmuId}_files/1.5/0_0.jpeg`,
      `/slides/${fx.cmuId}_files/12/0_0.gif`,
    ]) {
      const status = (await get(path)).status;
      expect([400, 404], path).toContain(status);
    }
    expect((await get(`/api/slides/${fx.cmuId}/region.jpeg?x=0&y=0&w=1e12&h=10`)).status).toBe(400);
    expect((await get(`/api/runs/${fx.milRunId}/slides/${fx.cmuId}/top-attention?k=100000`)).status).toBe(
      400,
    );
  });

  it('never serves label or macro images, under any name', async () => {
    const slide = await openSlide(join(import.meta.dirname, '../fixtures/slides/CMU-1-Small-Region.svs'));
    expect(slide.associatedImages).toEqual(expect.arrayContaining(['label', 'macro']));
    await slide.close();
    // (The list page's /thumbnail.jpeg is rendered from the pyramid, not the file's associated image.)
    for (const name of ['label', 'macro']) {
      for (const path of [
        `/api/slides/${fx.cmuId}/${name}`,
        `/api/slides/${fx.cmuId}/${name}.jpeg`,
        `/api/slides/${fx.cmuId}/associated/${name}`,
        `/slides/${fx.cmuId}/${name}.jpeg`,
        `/slides/${fx.cmuId}_${name}.jpeg`,
      ]) {
        expect((await get(path)).status, path).toBe(404);
      }
    }
  });

  it('answers 404 (and keeps serving) when a registered slide’s file has gone missing', async () => {
    fx.store.db
      .prepare(
        `INSERT INTO slides (id, path, name, format, width, height, levels_json)
         VALUES ('gone0001', '/nonexistent/gone.svs', 'gone.svs', 'aperio-svs', 1000, 1000, ?)`,
      )
      .run(JSON.stringify([{ width: 1000, height: 1000, downsample: 1, tileWidth: 256, tileHeight: 256 }]));
    const res = await get('/slides/gone0001_files/10/0_0.jpeg');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/no longer available/);
    expect((await get(`/slides/${fx.cmuId}_files/9/0_0.jpeg`)).status).toBe(200);
  });

  it('survives malformed requests and raw garbage, and still serves afterwards', async () => {
    const replies = await Promise.all([
      rawRequest('\x00\x01\x02garbage\r\n\r\n'),
      rawRequest('GET /api/slides HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
      rawRequest(`GET /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      rawRequest('GET /api/slides?%zz=%%%&x=\u00ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      rawRequest('GET http://evil.example/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      rawRequest('DELETE /api/slides HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      rawRequest(
        'GET /api/slides HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
      ),
    ]);
    for (const r of replies) expect(r === '' || /^HTTP\/1\.1 (4\d\d|200)/.test(r)).toBe(true);
    expect(replies[5]).toMatch(/^HTTP\/1\.1 405/);
    expect((await get('/api/slides')).status).toBe(200);
  });
});
