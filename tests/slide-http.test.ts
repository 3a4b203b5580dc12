import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlideNotFoundError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { CMU_SLIDE, dataDir, TCGA_SLIDE } from './helpers/paths.ts';

/** A static file server on 127.0.0.1 that honours single byte ranges and counts the bytes it sends. */
let server: Server;
let base = '';
let bytesSent = 0;
let fullFileResponses = 0;
const files: Record<string, string> = {
  '/cmu.svs': CMU_SLIDE,
  '/tcga.svs': TCGA_SLIDE,
  '/ihc.png': path.join(dataDir, 'images/ihc.png'),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      fullFileResponses++;
      bytesSent += size;
      res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
      createReadStream(file).pipe(res);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
    if (start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    bytesSent += end - start + 1;
    res.writeHead(206, {
      'Content-Range': `bytes ${start}-${end}/${size}`,
      'Content-Length': end - start + 1,
      'Accept-Ranges': 'bytes',
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('slides over HTTP range requests', () => {
  it('reads the same pixels and id as from disk without downloading the whole file', async () => {
    for (const [url, file] of [
      ['/cmu.svs', CMU_SLIDE],
      ['/tcga.svs', TCGA_SLIDE],
    ]) {
      bytesSent = 0;
      fullFileResponses = 0;
      const remote = await openSlide(`${base}${url}`);
      const local = await openSlide(file);
      try {
        expect(remote.id).toBe(local.id);
        expect(remote.levels).toEqual(local.levels);
        const r = { x: 1000, y: 1200, width: 300, height: 200, level: 0 };
        expect(
          Buffer.compare(
            Buffer.from((await remote.readRegion(r)).data),
            Buffer.from((await local.readRegion(r)).data),
          ),
        ).toBe(0);
        expect(fullFileResponses).toBe(0);
        expect(bytesSent).toBeLessThan(statSync(file).size / 2);
      } finally {
        await remote.close();
        await local.close();
      }
    }
  });

  it('opens a PNG by URL and reports a missing URL as SlideNotFoundError', async () => {
    const png = await openSlide(`${base}/ihc.png`);
    expect([png.width, png.height]).toEqual([512, 512]);
    await png.close();
    await expect(openSlide(`${base}/missing.svs`)).rejects.toThrow(SlideNotFoundError);
  });
});
