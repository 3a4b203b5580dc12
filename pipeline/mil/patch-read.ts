/**
 * Where to read a stored patch for the encoder. A patch row gives a level-0 box; the encoder wants
 * pixels at its training µm/px and at least its receptive field. The read window keeps the patch centre,
 * covers the whole patch at the model's resolution, and grows to the receptive field when the patch is
 * smaller. Slides (or models) without a physical resolution are read at the patch's own pyramid level.
 */
import type { LevelInfo } from '../slide/types.ts';

export interface PatchBox {
  x: number;
  y: number;
  width: number;
  height: number;
  level: number | null;
}

export type PatchRead =
  | { mode: 'mpp'; mpp: number; size: number; x: number; y: number }
  | { mode: 'level'; level: number; size: number; x: number; y: number };

export function planPatchRead(
  box: PatchBox,
  slide: { mpp: number | null; levels: readonly LevelInfo[] },
  model: { mpp: number | null; patchSize: number },
): PatchRead {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const extent = Math.max(box.width, box.height);
  if (slide.mpp !== null && model.mpp !== null) {
    const scale = model.mpp / slide.mpp; // level-0 pixels per output pixel
    const size = Math.max(model.patchSize, Math.round(extent / scale));
    const half = (size * scale) / 2;
    return { mode: 'mpp', mpp: model.mpp, size, x: Math.round(cx - half), y: Math.round(cy - half) };
  }
  const level = Math.min(Math.max(box.level ?? 0, 0), slide.levels.length - 1);
  const ds = slide.levels[level].downsample;
  const size = Math.max(model.patchSize, Math.round(extent / ds));
  const half = (size * ds) / 2;
  return { mode: 'level', level, size, x: Math.round(cx - half), y: Math.round(cy - half) };
}
