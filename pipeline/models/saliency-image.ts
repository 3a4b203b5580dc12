/**
 * Saliency overlays for a human: the patch, then the gradient map and the Grad-CAM map each laid over a
 * dimmed copy of the patch in a heat colour (transparent at 0, opaque red-yellow at 1), side by side.
 */
import sharp from 'sharp';
import { saveImageFile } from '../slide/write-image.ts';
import type { SaliencyMaps } from './saliency.ts';

/** Heat colour of v in [0, 1]: black → red → yellow. */
function heat(v: number): [number, number, number] {
  return [Math.min(1, 2 * v) * 255, Math.max(0, 2 * v - 1) * 255, 0];
}

/** One map over an RGB patch (size × size × 3, 0–255): alpha = the map's value. */
export function overlay(rgb: Uint8Array, maps: Float32Array, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    const a = Math.min(1, Math.max(0, maps[i]));
    const h = heat(a);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(rgb[i * 3 + c] * 0.6 * (1 - a) + h[c] * a);
  }
  return out;
}

/** PNG strip [patch | gradient | Grad-CAM], each `tile` px square (nearest-neighbour, so pixels stay visible). */
export async function writeSaliencyStrip(
  file: string,
  rgb: Uint8Array,
  maps: SaliencyMaps,
  tile = 128,
): Promise<void> {
  const { size } = maps;
  const panels = [rgb, overlay(rgb, maps.gradient, size), overlay(rgb, maps.gradCam, size)];
  const images = await Promise.all(
    panels.map((p) =>
      sharp(Buffer.from(p), { raw: { width: size, height: size, channels: 3 } })
        .resize(tile, tile, { kernel: 'nearest' })
        .png()
        .toBuffer(),
    ),
  );
  const gap = 4;
  await saveImageFile(
    sharp({ create: { width: 3 * tile + 2 * gap, height: tile, channels: 3, background: '#ffffff' } })
      .composite(images.map((input, i) => ({ input, left: i * (tile + gap), top: 0 })))
      .png(),
    file,
  );
}
