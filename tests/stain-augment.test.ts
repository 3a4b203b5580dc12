/**
 * Training augmentation (brightness, contrast, blur, JPEG-quality jitter after the H&E jitter) and the
 * --stain-norm / --augment hooks: `wsi train` saves the stain target with the model, `wsi infer` uses it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet, parseLesionSpec } from '../fixtures/camelyon/generate.ts';
import { DEFAULT_NORMALISATION } from '../pipeline/models/normalise.ts';
import {
  applyPhotometric,
  gaussianBlur,
  jpegRoundTrip,
  STRONG_PHOTOMETRIC,
} from '../pipeline/stain/augment.ts';
import { checkStainEstimate } from '../pipeline/stain/index.ts';
import { augmentPatch, DEFAULT_AUGMENT, STRONG_AUGMENT } from '../pipeline/train/augment.ts';
import { createRng } from '../pipeline/util/rng.ts';
import { tempDir } from './helpers/paths.ts';
import { concentrationField, REFERENCE_STAIN, renderStained } from './helpers/stain-tiles.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const tmp = tempDir('stain-augment');
afterAll(() => tmp.cleanup());

const S = 64;
const tile = renderStained(concentrationField(S, 5), REFERENCE_STAIN);
const meanAbs = (a: Uint8Array, b: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('photometric augmentation', () => {
  it('JPEG round trip matches libjpeg (sharp, 4:4:4) at the same quality, and loses more at low quality', async () => {
    for (const q of [90, 40]) {
      const ours = tile.slice();
      jpegRoundTrip(ours, S, S, q);
      const jpg = await sharp(tile, { raw: { width: S, height: S, channels: 3 } })
        .jpeg({ quality: q, chromaSubsampling: '4:4:4' })
        .toBuffer();
      const real = new Uint8Array(await sharp(jpg).raw().toBuffer());
      // Same quantisation; libjpeg's integer DCT and rounding differ from ours by about a level.
      expect(meanAbs(ours, real)).toBeLessThan(1.5);
    }
    const hi = tile.slice();
    const lo = tile.slice();
    jpegRoundTrip(hi, S, S, 95);
    jpegRoundTrip(lo, S, S, 20);
    expect(meanAbs(lo, tile)).toBeGreaterThan(2 * meanAbs(hi, tile));
  });

  it('blur removes high frequencies; brightness and contrast move the mean and spread', () => {
    const grad = (p: Uint8Array) => {
      let s = 0;
      for (let i = 3; i < p.length; i++) s += (p[i] - p[i - 3]) ** 2; // high-frequency energy
      return s;
    };
    const b = tile.slice();
    gaussianBlur(b, S, S, 1.5);
    expect(grad(b)).toBeLessThan(0.6 * grad(tile));
    const mean = (p: Uint8Array) => p.reduce((a, v) => a + v, 0) / p.length;
    const brighter = tile.slice();
    applyPhotometric(brighter, S, S, { brightness: 0.05, contrast: 1, blurSigma: 0, jpegQuality: 0 });
    expect(mean(brighter) - mean(tile)).toBeGreaterThan(8);
    const flat = tile.slice();
    applyPhotometric(flat, S, S, { brightness: 0, contrast: 0.5, blurSigma: 0, jpegQuality: 0 });
    expect(Math.abs(mean(flat) - mean(tile))).toBeLessThan(1);
    expect(grad(flat)).toBeLessThan(0.4 * grad(tile));
  });

  it('is seeded: the same RNG state gives the same patch; the default setting draws nothing extra', () => {
    const run = (opts: typeof DEFAULT_AUGMENT, seed: number) => {
      const rng = createRng(seed);
      const out = new Float32Array(S * S * 3);
      const draws = Array.from({ length: 6 }, () =>
        augmentPatch(tile, S, rng, opts, DEFAULT_NORMALISATION, out, 0, new Uint8Array(S * S * 3)),
      );
      return { out, draws, state: rng.state() };
    };
    const a = run(STRONG_AUGMENT, 3);
    const b = run(STRONG_AUGMENT, 3);
    expect(Array.from(a.out)).toEqual(Array.from(b.out));
    expect(a.draws).toEqual(b.draws);
    expect(a.draws.some((d) => (d?.jpegQuality ?? 0) > 0)).toBe(true);
    expect(run(STRONG_AUGMENT, 4).out).not.toEqual(a.out);
    // Default augmentation: 1 + 6 draws per patch (transform, 3 scales, 3 shifts), as before this option.
    const ref = createRng(3);
    for (let i = 0; i < 6 * 7; i++) ref.next();
    expect(run(DEFAULT_AUGMENT, 3).state).toEqual(ref.state());
    expect(run(DEFAULT_AUGMENT, 3).draws.every((d) => d === undefined)).toBe(true);
    expect(STRONG_AUGMENT.photometric).toBe(STRONG_PHOTOMETRIC);
  });
});

describe('--stain-norm and --augment in wsi train and wsi infer', () => {
  beforeAll(async () => {
    await generateSyntheticSet({
      out: join(tmp.path, 'data'),
      slides: 2,
      seed: 9,
      size: 2048,
      tumourShare: 0.5,
      lesions: parseLesionSpec('small:1,itc:0'),
    });
  });
  const wsi = (...args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'bin/wsi.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, WSI_BACKEND: 'wasm' },
    });

  it('saves the pooled training target with the model, logs the draws, and infers with it', () => {
    const db = join(tmp.path, 'r.sqlite');
    const out = join(tmp.path, 'model');
    const slides = join(tmp.path, 'data', 'slides');
    const bad = wsi(
      'train',
      '--db',
      db,
      '--slides',
      slides,
      '--annotations',
      join(tmp.path, 'data', 'annotations'),
      '--sampler',
      'cased',
      '--steps',
      '2',
      '--out',
      out,
      '--stain-norm',
      'ruifrok',
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--stain-norm must be none, reinhard, macenko, vahadane/);
    const r = wsi(
      'train',
      '--db',
      db,
      '--slides',
      slides,
      '--annotations',
      join(tmp.path, 'data', 'annotations'),
      '--sampler',
      'cased',
      '--steps',
      '2',
      '--batch',
      '8',
      '--val-every',
      '1',
      '--out',
      out,
      '--quiet',
      '--stain-norm',
      'macenko',
      '--augment',
    );
    expect(r.stderr + r.stdout).toMatch(/model \d+/);
    expect(r.status).toBe(0);
    const meta = JSON.parse(readFileSync(join(out, 'wsi-model.json'), 'utf8'));
    expect(meta.stain.method).toBe('macenko');
    expect(checkStainEstimate(meta.stain.target).method).toBe('macenko');
    expect(meta.training.config.augment.photometric.jpegP).toBeGreaterThan(0);
    // The draws are logged with each validation step's metrics in the store's training_log.
    const store = new Database(db, { readonly: true });
    const logged = store.prepare('SELECT metrics_json FROM training_log ORDER BY step').all() as {
      metrics_json: string;
    }[];
    store.close();
    const shares = logged.map((l) => JSON.parse(l.metrics_json).augJpegShare as number);
    expect(shares.length).toBe(2);
    expect(shares.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(shares.some((v) => v > 0)).toBe(true);
    const inf = wsi(
      'infer',
      join(slides, 'slide_001.tif'),
      '--model',
      out,
      '--db',
      db,
      '--workers',
      '1',
      '--quiet',
    );
    expect(inf.stderr).toBe('');
    expect(inf.stdout).toMatch(/slide_001.tif: done/);
  }, 300_000);
});
