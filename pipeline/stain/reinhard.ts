/**
 * Reinhard et al. 2001 colour transfer, as used for H&E: the tissue's per-channel mean and standard
 * deviation in L*a*b* (CIE Lab here, not Reinhard's lαβ) are matched to the target's.
 */
import { labToRgb, rgbToLab } from './lab.ts';
import type { LabStats, TileNormaliser, Vec3 } from './types.ts';

/** Mean and sd of the selected pixels in Lab. Pixels brighter than `maxL` (glass) are left out. */
export function estimateLabStats(
  pixels: Uint8Array,
  channels: number,
  o: { keep?: (pixel: number) => boolean; maxL?: number; maxSamples?: number } = {},
): LabStats {
  const n = pixels.length / channels;
  const stride = Math.max(1, Math.floor(n / (o.maxSamples ?? 200_000)));
  const maxL = o.maxL ?? 90;
  const lab = [0, 0, 0];
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let count = 0;
  for (let i = 0; i < n; i += stride) {
    if (o.keep && !o.keep(i)) continue;
    const p = i * channels;
    rgbToLab(pixels[p], pixels[p + 1], pixels[p + 2], lab);
    if (lab[0] > maxL) continue;
    for (let c = 0; c < 3; c++) {
      sum[c] += lab[c];
      sq[c] += lab[c] * lab[c];
    }
    count++;
  }
  if (count < 16) throw new Error('too few tissue pixels to estimate Lab statistics');
  const mean = sum.map((s) => s / count) as Vec3;
  const std = sq.map((s, c) => Math.sqrt(Math.max(1e-6, s / count - mean[c] * mean[c]))) as Vec3;
  return { method: 'reinhard', mean, std };
}

/**
 * Maps pixels with `source` statistics to `target` statistics. Glass is kept: the mapping fades out between
 * L = maxL − 5 and maxL + 5, so tissue edges get no seam.
 */
export function reinhardNormaliser(source: LabStats, target: LabStats, maxL = 90): TileNormaliser {
  const gain = [0, 1, 2].map((c) => target.std[c] / source.std[c]);
  return (pixels, channels) => {
    const n = pixels.length / channels;
    const out = new Uint8Array(n * 3);
    const lab = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      rgbToLab(pixels[p], pixels[p + 1], pixels[p + 2], lab);
      const w = Math.min(1, Math.max(0, (maxL + 5 - lab[0]) / 10));
      labToRgb(
        lab[0] + w * ((lab[0] - source.mean[0]) * gain[0] + target.mean[0] - lab[0]),
        lab[1] + w * ((lab[1] - source.mean[1]) * gain[1] + target.mean[1] - lab[1]),
        lab[2] + w * ((lab[2] - source.mean[2]) * gain[2] + target.mean[2] - lab[2]),
        out,
        i * 3,
      );
    }
    return out;
  };
}
