/**
 * Pure read planning (no I/O): which level serves a request at a given µm/px, which window of it to
 * read, and how much to resize afterwards. Picks the coarsest level that is still at least as fine as
 * asked, so resizing only ever shrinks (unless the request is finer than level 0).
 */
import type { LevelInfo, Mpp, MppRegion } from './types.ts';

export interface ReadPlan {
  level: number;
  /** Window in the chosen level's pixels. */
  window: { x: number; y: number; width: number; height: number };
  /** Output size. */
  width: number;
  height: number;
  /** Output px per level px (< 1 shrinks, > 1 enlarges). */
  scale: number;
}

/** Relative slack so that 0.5 µm/px on a 0.499 µm/px slide's 2× level still counts as "fine enough". */
const TOLERANCE = 0.01;

export function chooseLevel(levels: readonly LevelInfo[], downsample: number): number {
  let best = 0;
  for (let i = 0; i < levels.length; i++) {
    if (
      levels[i].downsample <= downsample * (1 + TOLERANCE) &&
      levels[i].downsample >= levels[best].downsample
    )
      best = i;
  }
  return best;
}

export function planRead(levels: readonly LevelInfo[], slideMpp: Mpp, r: MppRegion): ReadPlan {
  const dsX = r.mpp / slideMpp.x;
  const dsY = r.mpp / slideMpp.y;
  const level = chooseLevel(levels, Math.min(dsX, dsY));
  const L = levels[level];
  const ratioX = levels[0].width / L.width;
  const ratioY = levels[0].height / L.height;
  const window = {
    x: Math.floor(r.x / ratioX),
    y: Math.floor(r.y / ratioY),
    width: Math.max(1, Math.round((r.width * dsX) / ratioX)),
    height: Math.max(1, Math.round((r.height * dsY) / ratioY)),
  };
  // A window within half a pixel of the output size is read as-is: no resampling blur.
  if (Math.abs(window.width - r.width) <= 1 && Math.abs(window.height - r.height) <= 1) {
    window.width = r.width;
    window.height = r.height;
  }
  return { level, window, width: r.width, height: r.height, scale: r.width / window.width };
}
