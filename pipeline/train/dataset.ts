/**
 * The training patch set, cut exactly as `wsi patches` cuts it: the patch pipeline's tissue mask
 * (pipeline/tissue), its grid at the model's µm/px with the same tissue floor, and its PatchCamelyon labels
 * (tumour when the patch's centre region touches tumour outside exclusions). Pixels are read one grid row
 * at a time (a strip as tall as one patch), so memory holds only the kept patches plus one strip.
 */
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { findAnnotationFile, pointInRings, type Ring, readAnnotationFile } from '../annotations/index.ts';
import type { Annotation } from '../annotations/types.ts';
import { ConfigError, MissingResolutionError } from '../errors.ts';
import { type TruthPolygons, truthOfAnnotations } from '../eval/asap.ts';
import { slideStem } from '../eval/tables.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { labelPatches, planGrid } from '../patches/index.ts';
import type { PatchSpec } from '../patches/types.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import { type StainSetup, slideStainNormaliser } from '../stain/train-target.ts';
import type { StainEstimate, StainMethod, TileNormaliser } from '../stain/types.ts';
import { detectTissue } from '../tissue/index.ts';
import type { TissueMask } from '../tissue/types.ts';

export interface SlideSource {
  path: string;
  name: string;
  /** Tumour and exclusion polygons (level-0 px); null for a slide with no annotation file (normal). */
  truth: TruthPolygons | null;
  /** Areas whose patches are left out (patch centre inside), e.g. drawn 'exclude' areas. */
  ignore?: Ring[];
}

export interface PatchRef {
  slide: number;
  /** Level-0 top-left and size. */
  x: number;
  y: number;
  size: number;
  label: 0 | 1;
}

export interface PatchSet {
  slides: SlideSource[];
  /** Slide µm/px per slide (level 0). */
  slideMpp: number[];
  patchSize: number;
  mpp: number;
  refs: PatchRef[];
  labels: Uint8Array;
  /** refs.length × patchSize² × 3 bytes, RGB. */
  pixels: Uint8Array;
  /** Stain target the pixels were normalised to (absent: raw pixels). */
  stain?: { method: StainMethod; target: StainEstimate };
}

/**
 * A patch set held in memory, not read from slides (benchmarks and tests): patch i is at x = i·size of
 * one unnamed 1 µm/px "slide".
 */
export function memoryPatchSet(pixels: Uint8Array, labels: Uint8Array, patchSize: number): PatchSet {
  return {
    slides: [{ path: 'memory', name: 'memory', truth: null }],
    slideMpp: [1],
    patchSize,
    mpp: 1,
    refs: Array.from(labels, (l, i) => ({
      slide: 0,
      x: i * patchSize,
      y: 0,
      size: patchSize,
      label: l as 0 | 1,
    })),
    labels,
    pixels,
  };
}

/** `--slides` value: a folder of slides or a comma-separated list of files and folders. */
export async function resolveSlidePaths(spec: string): Promise<string[]> {
  const parts = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!parts.length) throw new ConfigError('no slides given');
  return expandSlidePaths(parts, { what: '--slides' });
}

/** The same polygons in the form the patch pipeline's labeller takes. */
function annotationsOf(truth: TruthPolygons | null): Annotation[] {
  if (!truth) return [];
  const as = (cls: 'tumour' | 'exclusion', poly: TruthPolygons['tumour'][number], i: number): Annotation => ({
    name: `${cls} ${i}`,
    group: null,
    class: cls,
    geometry: 'polygon',
    coords: poly.map(([x, y]) => [x, y]),
  });
  return [
    ...truth.tumour.map((c, i) => as('tumour', c, i)),
    ...truth.exclusion.map((c, i) => as('exclusion', c, i)),
  ];
}

/**
 * Pairs slides with their annotation file as `wsi patches --annotations` does
 * (`<annotations>/<slide>.xml`, `.geojson` or `.json`); a slide without one is normal.
 */
export function slideSources(paths: string[], annotationsDir: string | undefined): SlideSource[] {
  if (
    annotationsDir !== undefined &&
    (!existsSync(annotationsDir) || !statSync(annotationsDir).isDirectory())
  )
    throw new ConfigError(`--annotations: ${annotationsDir} is not a directory`);
  return paths.map((path) => {
    const file = annotationsDir === undefined ? undefined : findAnnotationFile(annotationsDir, path);
    return {
      path,
      name: slideStem(basename(path)),
      truth: file ? truthOfAnnotations(readAnnotationFile(file)) : null,
    };
  });
}

export interface PatchSetOptions {
  mpp: number;
  patchSize: number;
  /** Tissue floor of the grid (default 0.5, as `wsi patches --min-tissue`). */
  minTissue?: number;
  /** Side of the centre region that decides the label, in patch pixels (default 32, as `wsi patches`). */
  centreSize?: number;
  onSlide?: (done: number, name: string) => void;
  /** Stain-normalise every slide's patches (to the given target, or to the pooled training slides'). */
  stain?: StainSetup;
}

/** Grid patches in rows (same y), in the grid's row-major order. */
function rowsOf(patches: readonly PatchSpec[]): PatchSpec[][] {
  const rows: PatchSpec[][] = [];
  for (const p of patches) {
    const last = rows[rows.length - 1];
    if (last && last[0].y === p.y) last.push(p);
    else rows.push([p]);
  }
  return rows;
}

/**
 * Reads one grid row as a strip at `mpp` and copies each patch out of it. The grid's level-0 origins are
 * `round(i × stride × scale)`, so a patch's place in the strip is its offset from the strip's origin at
 * `mpp`, rounded (exact when the scale is a whole number, as for 1 µm/px on a 0.25 µm/px slide).
 */
async function readRow(
  slide: Slide,
  row: readonly PatchSpec[],
  P: number,
  mpp: number,
  scale: number,
  stain?: TileNormaliser,
) {
  const x0 = row[0].x;
  const last = row[row.length - 1];
  const width = Math.round((last.x - x0) / scale) + P;
  const raw = await slide.readAt({ x: x0, y: row[0].y, width, height: P, mpp });
  const strip = stain ? { ...raw, data: stain(raw.data, raw.channels), channels: 3 as const } : raw;
  const out: Uint8Array[] = [];
  for (const p of row) {
    const ox = Math.min(Math.round((p.x - x0) / scale), strip.width - P);
    const patch = new Uint8Array(P * P * 3);
    for (let y = 0; y < P; y++)
      for (let x = 0; x < P; x++) {
        const src = (y * strip.width + ox + x) * strip.channels;
        const dst = (y * P + x) * 3;
        patch[dst] = strip.data[src];
        patch[dst + 1] = strip.data[src + 1];
        patch[dst + 2] = strip.data[src + 2];
      }
    out.push(patch);
  }
  return out;
}

export async function buildPatchSet(slides: SlideSource[], o: PatchSetOptions): Promise<PatchSet> {
  const P = o.patchSize;
  const refs: PatchRef[] = [];
  const chunks: Uint8Array[] = [];
  const slideMpp: number[] = [];
  const masks = new Map<number, TissueMask>();
  const stain = o.stain
    ? await slideStainNormaliser(
        slides.map((s) => s.path),
        o.stain,
        masks,
      )
    : undefined;
  for (let s = 0; s < slides.length; s++) {
    const slide = await openSlide(slides[s].path);
    try {
      if (!slide.mpp)
        throw new MissingResolutionError(`${slides[s].path} does not say its µm/px; training needs it`);
      slideMpp.push(slide.mpp.x);
      const mask = masks.get(s) ?? (await detectTissue(slide));
      const normaliser = stain ? await stain.forSlide(s, slide, mask) : undefined;
      const grid = planGrid(slide, mask, {
        resolution: { mpp: o.mpp },
        size: P,
        minTissue: o.minTissue ?? 0.5,
      });
      const labels = labelPatches(grid, P, annotationsOf(slides[s].truth), { centreSize: o.centreSize });
      const ignore = slides[s].ignore ?? [];
      const ignored = (p: PatchSpec) =>
        ignore.some((r) => pointInRings(p.x + p.width / 2, p.y + p.height / 2, [r]));
      const scale = o.mpp / slide.mpp.x;
      let k = 0;
      for (const row of rowsOf(grid)) {
        const patches = await readRow(slide, row, P, o.mpp, scale, normaliser);
        for (let i = 0; i < row.length; i++, k++) {
          if (ignored(row[i])) continue;
          chunks.push(patches[i]);
          refs.push({ slide: s, x: row[i].x, y: row[i].y, size: row[i].width, label: labels[k] });
        }
      }
    } finally {
      await slide.close();
    }
    o.onSlide?.(s + 1, slides[s].name);
  }
  const pixels = new Uint8Array(refs.length * P * P * 3);
  for (let i = 0; i < chunks.length; i++) pixels.set(chunks[i], i * P * P * 3);
  return {
    slides,
    slideMpp,
    patchSize: P,
    mpp: o.mpp,
    refs,
    labels: Uint8Array.from(refs, (r) => r.label),
    pixels,
    ...(stain ? { stain: { method: stain.method, target: stain.target } } : {}),
  };
}
