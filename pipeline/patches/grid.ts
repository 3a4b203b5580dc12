/**
 * Patch grid planning (no pixel I/O): positions at a target µm/px or level, full patches only (as CLAM's
 * create_patches_fp), with the tissue fraction of each from the mask. Pixels are read later by
 * `readPatch`: at a µm/px, from the coarsest level at least as fine as asked, then resized.
 */
import { ConfigError, MissingResolutionError } from '../errors.ts';
import { chooseLevel } from '../slide/plan.ts';
import type { Slide } from '../slide/types.ts';
import { tissueFraction } from '../tissue/fraction.ts';
import type { TissueMask } from '../tissue/types.ts';
import type { GridSpec, PatchSpec } from './types.ts';

export interface GridGeometry {
  /** Level-0 px per patch px on each axis. */
  scaleX: number;
  scaleY: number;
  /** Level-0 extent of a patch. */
  width: number;
  height: number;
  level: number;
  mpp: number | null;
}

type SlideShape = Pick<Slide, 'width' | 'height' | 'levels' | 'mpp' | 'source'>;

export function checkGridSpec(spec: GridSpec): void {
  const { size, stride = spec.size, minTissue = 0.5 } = spec;
  if (!Number.isInteger(size) || size < 1 || size > 16_384)
    throw new ConfigError(`size must be an integer 1–16384, got ${size}`);
  if (!Number.isInteger(stride) || stride < 1 || stride > 16_384)
    throw new ConfigError(`stride must be an integer 1–16384, got ${stride}`);
  if (!(minTissue >= 0 && minTissue <= 1))
    throw new ConfigError(`min-tissue must be within 0–1, got ${minTissue}`);
  if ('mpp' in spec.resolution && !(spec.resolution.mpp > 0 && spec.resolution.mpp < 1000))
    throw new ConfigError(`mpp must be a positive number of µm per pixel, got ${spec.resolution.mpp}`);
}

export function gridGeometry(slide: SlideShape, spec: GridSpec): GridGeometry {
  checkGridSpec(spec);
  if ('level' in spec.resolution) {
    const level = spec.resolution.level;
    if (!Number.isInteger(level) || level < 0 || level >= slide.levels.length) {
      throw new ConfigError(`level must be 0–${slide.levels.length - 1} for ${slide.source}, got ${level}`);
    }
    const L = slide.levels[level];
    const scaleX = slide.width / L.width;
    const scaleY = slide.height / L.height;
    return {
      scaleX,
      scaleY,
      width: Math.round(spec.size * scaleX),
      height: Math.round(spec.size * scaleY),
      level,
      mpp: slide.mpp ? slide.mpp.x * scaleX : null,
    };
  }
  const { mpp } = spec.resolution;
  if (!slide.mpp) {
    throw new MissingResolutionError(
      `${slide.source} does not say its µm/px: give --assume-mpp M (the level-0 µm/px) or --level L instead of --mpp`,
    );
  }
  const scaleX = mpp / slide.mpp.x;
  const scaleY = mpp / slide.mpp.y;
  return {
    scaleX,
    scaleY,
    width: Math.round(spec.size * scaleX),
    height: Math.round(spec.size * scaleY),
    level: chooseLevel(slide.levels, Math.min(scaleX, scaleY)),
    mpp,
  };
}

/** Every full patch of the grid whose tissue fraction is at least `minTissue`, in row-major order. */
export function planGrid(slide: SlideShape, mask: TissueMask | null, spec: GridSpec): PatchSpec[] {
  const g = gridGeometry(slide, spec);
  const stride = spec.stride ?? spec.size;
  const minTissue = spec.minTissue ?? 0.5;
  const stepX = stride * g.scaleX;
  const stepY = stride * g.scaleY;
  const out: PatchSpec[] = [];
  for (let j = 0; ; j++) {
    const y = Math.round(j * stepY);
    if (y + g.height > slide.height) break;
    for (let i = 0; ; i++) {
      const x = Math.round(i * stepX);
      if (x + g.width > slide.width) break;
      const rect = { x, y, width: g.width, height: g.height };
      const tissue = mask ? tissueFraction(mask, rect) : 1;
      if (minTissue > 0 && tissue < minTissue) continue;
      out.push({ ...rect, level: g.level, mpp: g.mpp, tissue });
    }
  }
  return out;
}
