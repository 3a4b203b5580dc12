import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../pipeline/pool.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { LevelRegion } from '../pipeline/slide/types.ts';
import { CMU_SLIDE } from './helpers/paths.ts';

const pool = createPool({ workers: 2 });
afterAll(() => pool.close());

describe('workers/read-region through the pool', () => {
  it('returns the same pixels as reading on the main thread, batched in request order', async () => {
    const regions: LevelRegion[] = [
      { x: 0, y: 0, width: 64, height: 32, level: 0 },
      { x: 1000, y: 2000, width: 100, height: 50, level: 0 },
      { x: 2200, y: 2950, width: 40, height: 40, level: 0 },
    ];
    const [a, b] = await Promise.all([
      pool.run<Uint8Array>('read-region', { slidePath: CMU_SLIDE, regions }),
      pool.run<Uint8Array>('read-region', { slidePath: CMU_SLIDE, regions: regions.slice(1) }),
    ]);
    const slide = await openSlide(CMU_SLIDE);
    const expected = Buffer.concat(
      await Promise.all(regions.map(async (r) => (await slide.readRegion(r)).data)),
    );
    await slide.close();
    expect(Buffer.compare(Buffer.from(a), expected)).toBe(0);
    expect(Buffer.compare(Buffer.from(b), expected.subarray(64 * 32 * 3))).toBe(0);
  });

  it('fills a buffer the caller transfers in and hands it back, batch after batch', async () => {
    const regions: LevelRegion[] = [
      { x: 500, y: 700, width: 48, height: 48, level: 0 },
      { x: 1500, y: 100, width: 48, height: 48, level: 0 },
    ];
    const slide = await openSlide(CMU_SLIDE);
    const expected = Buffer.concat(
      await Promise.all(regions.map(async (r) => (await slide.readRegion(r)).data)),
    );
    await slide.close();
    let buffer: Uint8Array = new Uint8Array(expected.length + 100).fill(7);
    for (let round = 0; round < 3; round++) {
      const sent = buffer;
      const filled = await pool.run<Uint8Array>(
        'read-region',
        { slidePath: CMU_SLIDE, regions, into: sent },
        [sent.buffer as ArrayBuffer],
      );
      expect(sent.byteLength).toBe(0); // transferred, not copied
      expect(filled.byteLength).toBe(expected.length);
      expect(filled.buffer.byteLength).toBe(expected.length + 100);
      expect(Buffer.compare(Buffer.from(filled), expected)).toBe(0);
      buffer = new Uint8Array(filled.buffer);
    }
  });

  it('refuses a buffer too small for the batch', async () => {
    const into = new Uint8Array(10);
    await expect(
      pool.run('read-region', {
        slidePath: CMU_SLIDE,
        regions: [{ x: 0, y: 0, width: 8, height: 8, level: 0 }],
        into,
      }),
    ).rejects.toThrow(/holds 10 bytes; the batch needs 192/);
  });
});
