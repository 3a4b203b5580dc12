/**
 * Annotation writes through the viewer API: create, edit and delete drawings with author and time; writes
 * refused from another origin, another Host (DNS rebinding), a cross-site fetch, a form post or a preflight;
 * malformed bodies get 400 and change nothing; imported annotations stay read-only.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { buildViewerFixture, type ViewerFixture } from './fixtures/viewer-fixtures.ts';

let fx: ViewerFixture;
let viewer: RunningViewer;
let origin: string;

beforeAll(async () => {
  fx = await buildViewerFixture(join(mkdtempSync(join(tmpdir(), 'wsi-viewer-ann-')), 'v.sqlite'));
  viewer = await startViewer({
    store: fx.store,
    openSlide: (p) => openSlide(p),
    port: 0,
    log: () => undefined,
  });
  origin = `http://127.0.0.1:${viewer.port}`;
});

afterAll(async () => {
  await viewer?.close();
  fx?.store.close();
});

/** A raw request (fetch would set Origin and Sec-Fetch-* itself). */
function send(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: viewer.port,
        method,
        path,
        headers: {
          Origin: origin,
          'Content-Type': 'application/json',
          ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const list = async () =>
  (await (await fetch(`${origin}/api/slides/${fx.cmuId}/annotations`)).json()) as {
    id: number;
    label: string | null;
    class: string;
    geometry: string;
    coords: number[][];
    author: string | null;
    createdAt: string | null;
    editable: boolean;
  }[];

const polygon = {
  geometry: 'polygon',
  label: 'tumour',
  author: 'Dr Test',
  coords: [
    [100, 100],
    [400, 120],
    [300, 380],
  ],
};

describe('annotation writes', () => {
  it('creates, edits and deletes a drawing, keeping author and times', async () => {
    const before = await list();
    const created = await send('POST', `/api/slides/${fx.cmuId}/annotations`, JSON.stringify(polygon));
    expect(created.status).toBe(201);
    const a = created.json as { id: number; label: string; class: string; author: string; createdAt: string };
    expect(a).toMatchObject({ label: 'tumour', class: 'tumour', author: 'Dr Test', geometry: 'polygon' });
    expect(Date.parse(a.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    const point = await send(
      'POST',
      `/api/slides/${fx.cmuId}/annotations`,
      JSON.stringify({ geometry: 'point', label: 'mitosis', author: 'Dr Test', coords: [[500.5, 600.25]] }),
    );
    expect(point.status).toBe(201);
    expect((await list()).length).toBe(before.length + 2);
    const edited = await send(
      'PUT',
      `/api/slides/${fx.cmuId}/annotations/${a.id}`,
      JSON.stringify({
        ...polygon,
        label: 'normal',
        coords: [
          [110, 100],
          [400, 120],
          [300, 380],
          [150, 300],
        ],
      }),
    );
    expect(edited.status).toBe(200);
    const after = (await list()).find((x) => x.id === a.id)!;
    expect(after).toMatchObject({ label: 'normal', class: 'other', editable: true });
    expect(after.coords).toHaveLength(4);
    expect((await send('DELETE', `/api/slides/${fx.cmuId}/annotations/${a.id}`)).status).toBe(200);
    expect((await list()).some((x) => x.id === a.id)).toBe(false);
    expect((await send('DELETE', `/api/slides/${fx.cmuId}/annotations/${a.id}`)).status).toBe(404);
  });

  it('refuses writes that do not come from the viewer page, and sends no CORS headers', async () => {
    const before = JSON.stringify(await list());
    const path = `/api/slides/${fx.cmuId}/annotations`;
    const body = JSON.stringify(polygon);
    const refused = [
      await send('POST', path, body, { Origin: 'http://evil.example' }),
      await send('POST', path, body, { Origin: '' }),
      await send('POST', path, body, { Origin: 'null' }),
      await send('POST', path, body, { 'Sec-Fetch-Site': 'cross-site' }),
      // DNS rebinding: another name resolving to 127.0.0.1, with a matching Origin.
      await send('POST', path, body, {
        Host: `evil.example:${viewer.port}`,
        Origin: `http://evil.example:${viewer.port}`,
      }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
    // A form post cannot set the JSON type; a preflight is not answered with CORS.
    expect(
      (await send('POST', path, 'geometry=point', { 'Content-Type': 'application/x-www-form-urlencoded' }))
        .status,
    ).toBe(415);
    const preflight = await send('OPTIONS', path, undefined, { 'Access-Control-Request-Method': 'POST' });
    expect(preflight.status).toBe(405);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    // Writes elsewhere are not routes at all.
    expect((await send('POST', `/api/slides/${fx.cmuId}`, body)).status).toBe(405);
    expect(JSON.stringify(await list())).toBe(before);
  });

  it('answers malformed bodies with 400 and changes nothing', async () => {
    const before = JSON.stringify(await list());
    const path = `/api/slides/${fx.cmuId}/annotations`;
    const bad = [
      '{not json',
      '[]',
      JSON.stringify({ ...polygon, geometry: 'circle' }),
      JSON.stringify({
        ...polygon,
        coords: [
          [1, 2],
          [3, 4],
        ],
      }),
      JSON.stringify({
        ...polygon,
        coords: [
          [1, 2],
          [3, 'x'],
          [5, 6],
        ],
      }),
      JSON.stringify({
        ...polygon,
        coords: [
          [1e9, 2],
          [3, 4],
          [5, 6],
        ],
      }),
      JSON.stringify({ ...polygon, author: '' }),
      JSON.stringify({ ...polygon, label: '<script>' }),
      JSON.stringify({ ...polygon, extra: 1 }),
      JSON.stringify({
        geometry: 'rectangle',
        label: 'tumour',
        author: 'A',
        coords: [
          [0, 0],
          [10, 0],
          [10, 10],
        ],
      }),
      JSON.stringify({
        geometry: 'point',
        label: 'tumour',
        author: 'A',
        coords: [
          [0, 0],
          [1, 1],
        ],
      }),
    ];
    for (const body of bad) {
      const r = await send('POST', path, body);
      expect(r.status, body).toBe(400);
      expect((r.json as { error: string }).error.split('\n')).toHaveLength(1);
    }
    expect(JSON.stringify(await list())).toBe(before);
  });

  it('keeps imported annotations read-only and unknown ids 404', async () => {
    const imported = (await list()).find((a) => !a.editable)!;
    expect(imported).toBeDefined();
    const path = `/api/slides/${fx.cmuId}/annotations/${imported.id}`;
    expect((await send('DELETE', path)).status).toBe(409);
    expect((await send('PUT', path, JSON.stringify(polygon))).status).toBe(409);
    expect(
      (await send('PUT', `/api/slides/${fx.cmuId}/annotations/999999`, JSON.stringify(polygon))).status,
    ).toBe(404);
    expect((await send('POST', '/api/slides/nosuchslide/annotations', JSON.stringify(polygon))).status).toBe(
      404,
    );
  });
});
