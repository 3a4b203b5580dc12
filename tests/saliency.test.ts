import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../pipeline/errors.ts';
import { writeSaliencyPanels } from '../pipeline/mil/saliency-gallery.ts';
import { useBackend } from '../pipeline/models/backend.ts';
import { buildPatchClassifier, newPatchClassifier } from '../pipeline/models/patch-classifier.ts';
import { saliency } from '../pipeline/models/saliency.ts';
import { writeSaliencyStrip } from '../pipeline/models/saliency-image.ts';
import { createRng } from '../pipeline/util/rng.ts';

const P = 16;
const tmp = mkdtempSync(join(tmpdir(), 'saliency-'));
beforeAll(async () => {
  await useBackend('wasm');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A 3×3 conv (ReLU), then a 14×14 conv whose weights are zero outside rows/cols [r0, r0+6) of its
 * input, then the sigmoid head: the score depends only on input pixels [r0, r0+8)² of the patch.
 */
function regionModel(r0: number): tf.LayersModel {
  const rng = createRng(7);
  const input = tf.input({ shape: [null, null, 3] });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' });
  const c2 = tf.layers.conv2d({ filters: 4, kernelSize: 14, activation: 'relu', name: 'features' });
  const head = tf.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'head' });
  const out = head.apply(c2.apply(c1.apply(input))) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  c1.setWeights([
    tf.tensor4d(
      Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => rng.normal()),
      [3, 3, 3, 4],
    ),
    tf.fill([4], 0.5),
  ]);
  const w2 = new Float32Array(14 * 14 * 4 * 4);
  for (let y = r0; y < r0 + 6; y++)
    for (let x = r0; x < r0 + 6; x++)
      for (let k = 0; k < 16; k++) w2[(y * 14 + x) * 16 + k] = 0.05 * (0.5 + rng.next());
  c2.setWeights([tf.tensor4d(w2, [14, 14, 4, 4]), tf.fill([4], 0.1)]);
  head.setWeights([tf.tensor4d([0.3, 0.2, 0.25, 0.1], [1, 1, 4, 1]), tf.zeros([1])]);
  return model;
}

/** Share of a map's total inside the square [r0, r0 + n)². */
function massIn(map: Float32Array, r0: number, n: number): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < P; y++)
    for (let x = 0; x < P; x++) {
      const v = map[y * P + x];
      total += v;
      if (y >= r0 && y < r0 + n && x >= r0 && x < r0 + n) inside += v;
    }
  return inside / total;
}

describe('saliency', () => {
  const rng = createRng(3);
  const patch = Float32Array.from({ length: P * P * 3 }, () => rng.normal());

  for (const r0 of [0, 8]) {
    it(`a score that depends only on pixels [${r0}, ${r0 + 8})²: gradient and Grad-CAM mass is there`, () => {
      const model = regionModel(r0);
      const s = saliency(model, patch, P);
      // The region is a quarter of the patch; all of the mass belongs in it.
      expect(massIn(s.gradient, r0, 8)).toBeGreaterThan(0.99);
      expect(massIn(s.gradCam, r0, 8)).toBeGreaterThan(0.95);
      expect(Math.max(...s.gradient)).toBeCloseTo(1, 6);
      expect(s.score).toBeGreaterThan(0);
      expect(s.score).toBeLessThan(1);
      model.dispose();
    });
  }

  it('works on the default classifier architecture and writes a 3-panel overlay strip', async () => {
    const model = buildPatchClassifier(
      {
        name: 'small-test',
        layers: [
          { type: 'conv', filters: 4, kernel: 3, batchNorm: true },
          { type: 'maxpool', size: 2 },
          { type: 'conv', filters: 8, kernel: 3 },
          { type: 'conv', filters: 8, kernel: 3, batchNorm: true },
        ],
      },
      { seed: 2 },
    );
    const size = 16;
    const s = saliency(model, patch.subarray(0, size * size * 3), size);
    expect(s.gradient.length).toBe(size * size);
    expect(s.gradCam.length).toBe(size * size);
    expect(s.gradient.every((v) => v >= 0 && v <= 1)).toBe(true);
    const rgb = Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 13) % 256);
    const file = join(tmp, 'strip.png');
    await writeSaliencyStrip(file, rgb, s, 32);
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height]).toEqual([3 * 32 + 8, 32]);
    expect(() => saliency(model, patch.subarray(0, 10), size)).toThrow(ModelError);
    model.dispose();
  });

  it('writes saliency strips for stored patches of a real slide, read at the model µm/px', async () => {
    const { model, meta } = newPatchClassifier(
      {
        name: 't',
        layers: [
          { type: 'conv', filters: 4, kernel: 3 },
          { type: 'maxpool', size: 2 },
          { type: 'conv', filters: 4, kernel: 3 },
        ],
      },
      { mpp: 2, seed: 1 },
    );
    const slide = join(import.meta.dirname, '..', 'fixtures', 'slides', 'CMU-1-Small-Region.svs');
    const patches = [
      { x: 400, y: 300, width: 64, height: 64, attention: 0.5, score: null },
      { x: 1000, y: 1200, width: 64, height: 64, attention: 0.2, score: null },
    ];
    const out = await writeSaliencyPanels(model, meta, slide, patches, (i) => join(tmp, `p${i}.png`));
    expect(out.map((p) => [p.x, p.y])).toEqual([
      [400, 300],
      [1000, 1200],
    ]);
    for (const p of out) {
      expect((await sharp(p.file).metadata()).width).toBe(3 * 128 + 8);
      expect(p.score).toBeGreaterThan(0);
    }
    model.dispose();
  });
});
