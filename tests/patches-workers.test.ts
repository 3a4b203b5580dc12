import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planGrid, readPatch } from '../pipeline/patches/index.ts';
import { createPool, type WorkerPool } from '../pipeline/pool.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import { detectTissue } from '../pipeline/tissue/index.ts';
import { CMU_SLIDE, TCGA_SLIDE } from './helpers/paths.ts';

describe('patch worker tasks', () => {
  let pool: WorkerPool;
  let slide: Slide;
  beforeAll(async () => {
    pool = createPool({ workers: 2, maxQueue: 2 });
    slide = await openSlide(CMU_SLIDE);
  });
  afterAll(async () => {
    await pool.close();
    await slide.close();
  });

  it('returns the same patch pixels as reading them on the main thread, in request order', async () => {
    const mask = await detectTissue(slide);
    const grid = planGrid(slide, mask, { resolution: { mpp: 1.0 }, size: 48, minTissue: 0.5 }).slice(0, 12);
    const batches = [grid.slice(0, 5), grid.slice(5)];
    const results = await Promise.all(
      batches.map((b) =>
        pool.run<Uint8Array>('patch-pixels', {
          slidePath: CMU_SLIDE,
          size: 48,
          resolution: { mpp: 1.0 },
          patches: b.map((p) => ({ x: p.x, y: p.y })),
        }),
      ),
    );
    for (const [k, b] of batches.entries()) {
      expect(results[k].length).toBe(b.length * 48 * 48 * 3);
      for (const [i, p] of b.entries()) {
        const img = await readPatch(slide, p, 48, { mpp: 1.0 });
        const got = results[k].subarray(i * 48 * 48 * 3, (i + 1) * 48 * 48 * 3);
        expect(Buffer.from(got).equals(Buffer.from(img.data))).toBe(true);
      }
    }
  });

  it('reports a slide without MPP as a named error unless an MPP is assumed', async () => {
    const task = {
      slidePath: TCGA_SLIDE,
      size: 32,
      resolution: { mpp: 1.0 },
      patches: [{ x: 2000, y: 1500 }],
    };
    await expect(pool.run('patch-pixels', task)).rejects.toThrow(/does not record its microns per pixel/);
    const px = await pool.run<Uint8Array>('patch-pixels', { ...task, assumeMpp: 0.5 });
    expect(px.length).toBe(32 * 32 * 3);
  });
});
