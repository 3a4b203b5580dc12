import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../pipeline/errors.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import {
  beginRun,
  finishRun,
  getRun,
  isSlideDone,
  listSlides,
  markSlideDone,
  openStore,
  registerModel,
  upsertSlide,
} from '../pipeline/store/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'wsi-store-'));

function fakeSlide(id: string, source: string): Slide {
  const notUsed = () => Promise.reject(new Error('not used'));
  return {
    id,
    source,
    format: 'aperio-svs',
    vendor: 'aperio',
    levels: [{ width: 100, height: 80, downsample: 1, tileWidth: 64, tileHeight: 64 }],
    mpp: { x: 0.5, y: 0.5 },
    objectivePower: 20,
    properties: {},
    associatedImages: [],
    width: 100,
    height: 80,
    readRegion: notUsed,
    readAt: notUsed,
    readTile: notUsed,
    thumbnail: notUsed,
    readAssociatedImage: notUsed,
    close: () => Promise.resolve(),
  };
}

describe('store', () => {
  it('applies migrations once, in WAL mode, with R*Tree cells kept in sync', () => {
    const path = join(tmp(), 'r.sqlite');
    const a = openStore(path);
    expect(a.db.pragma('journal_mode', { simple: true })).toBe('wal');
    a.close();
    const b = openStore(path);
    const versions = b.db.prepare('SELECT version FROM schema_migrations').all();
    expect(versions.length).toBeGreaterThanOrEqual(1);
    upsertSlide(b, fakeSlide('s1', '/data/a.svs'));
    const { runId } = beginRun(b, 'count', { method: 'watershed' });
    b.db.prepare('INSERT INTO cells (run_id, slide_id, x, y) VALUES (?, ?, ?, ?)').run(runId, 's1', 10, 20);
    b.db.prepare('INSERT INTO cells (run_id, slide_id, x, y) VALUES (?, ?, ?, ?)').run(runId, 's1', 500, 20);
    const inBox = b.db
      .prepare(
        'SELECT c.x FROM cells c JOIN cells_rtree r ON r.id = c.id WHERE r.min_x >= 0 AND r.max_x <= 100',
      )
      .all();
    expect(inBox).toEqual([{ x: 10 }]);
    b.close();
  });

  it('keeps a slide under its content id when the file moves', () => {
    const store = openStore(join(tmp(), 'r.sqlite'));
    upsertSlide(store, fakeSlide('abc', '/old/place/CMU-1.svs'));
    upsertSlide(store, fakeSlide('abc', '/new/place/CMU-1-renamed.svs'));
    const slides = listSlides(store);
    expect(slides).toHaveLength(1);
    expect(slides[0]).toMatchObject({ id: 'abc', path: '/new/place/CMU-1-renamed.svs', mppX: 0.5 });
    store.close();
  });

  it('resumes the same run for the same config in any key order and remembers finished slides', () => {
    const store = openStore(join(tmp(), 'r.sqlite'));
    upsertSlide(store, fakeSlide('s1', '/a.svs'));
    const first = beginRun(store, 'patches', { mpp: 0.5, size: 256 });
    expect(first.resumed).toBe(false);
    store.db.transaction(() => markSlideDone(store, first.runId, 's1', 12))();
    const again = beginRun(store, 'patches', { size: 256, mpp: 0.5 });
    expect(again).toEqual({ runId: first.runId, resumed: true });
    expect(isSlideDone(store, again.runId, 's1')).toBe(true);
    expect(beginRun(store, 'patches', { size: 512, mpp: 0.5 }).runId).not.toBe(first.runId);
    finishRun(store, again.runId, { patches: 12 });
    expect(getRun(store, again.runId)).toMatchObject({
      status: 'done',
      attempts: 2,
      counts: { patches: 12 },
    });
    expect(registerModel(store, { name: 'm', kind: 'density', path: '/m' })).toBe(
      registerModel(store, { name: 'm', kind: 'density', path: '/m', metrics: { mae: 2 } }),
    );
    store.close();
  });

  it('refuses a store written by a newer schema and a path it cannot open', () => {
    const dir = tmp();
    const schemas = join(dir, 'schemas');
    mkdirSync(schemas);
    writeFileSync(join(schemas, '001_a.sql'), 'CREATE TABLE a (x INTEGER);');
    writeFileSync(join(schemas, '002_b.sql'), 'CREATE TABLE b (x INTEGER);');
    openStore(join(dir, 'r.sqlite'), { schemasDir: schemas }).close();
    const older = join(dir, 'older');
    mkdirSync(older);
    writeFileSync(join(older, '001_a.sql'), 'CREATE TABLE a (x INTEGER);');
    expect(() => openStore(join(dir, 'r.sqlite'), { schemasDir: older })).toThrow(/newer wsi-pipeline/);
    expect(() => openStore(join(dir, 'no', 'such', 'dir', 'r.sqlite'))).toThrow(StoreError);
  });
});
