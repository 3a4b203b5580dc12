/**
 * The training patch set: a non-overlapping grid of patches at the model's µm/px over each slide's tissue,
 * labelled from ASAP XML truth (tumour when at least `positiveCoverage` of the patch lies in tumour, normal
 * when none does, left out in between), pixels read strip by strip and kept in one byte array.
 * (The patch-pipeline's grid/label API had not landed when this was written; see the final report.)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, MissingResolutionError } from '../errors.ts';
import { readAsapTruth, type TruthPolygons } from '../eval/asap.ts';
import { slideStem } from '../eval/tables.ts';
import { openSlide } from '../slide/index.ts';
import { tissueFraction, tissueMask } from './tissue.ts';

export interface SlideSource {
  path: string;
  name: string;
  truth: TruthPolygons | null;
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
}

const SLIDE_FILE = /\.(tif|tiff|svs)$/i;

/** `--slides` value: a folder of slides or a comma-separated list of files. */
export function resolveSlidePaths(spec: string): string[] {
  const parts = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: string[] = [];
  for (const p of parts) {
    if (!existsSync(p)) throw new ConfigError(`slide path not found: ${p}`);
    if (statSync(p).isDirectory()) {
      const files = readdirSync(p)
        .filter((f) => SLIDE_FILE.test(f))
        .sort();
      if (!files.length) throw new ConfigError(`no .tif/.tiff/.svs slides in ${p}`);
      out.push(...files.map((f) => join(p, f)));
    } else out.push(p);
  }
  if (!out.length) throw new ConfigError('no slides given');
  return out;
}

/** Pairs slides with `<annotations>/<slide>.xml`; a slide without XML is normal. */
export function slideSources(paths: string[], annotationsDir: string): SlideSource[] {
  if (!existsSync(annotationsDir) || !statSync(annotationsDir).isDirectory())
    throw new ConfigError(`--annotations: ${annotationsDir} is not a directory`);
  return paths.map((path) => {
    const name = slideStem(basename(path));
    const xml = join(annotationsDir, `${name}.xml`);
    return { path, name, truth: existsSync(xml) ? readAsapTruth(xml) : null };
  });
}

function inside(poly: readonly (readonly [number, number])[], x: number, y: number): boolean {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

/** Share of an 8×8 grid of points in the rectangle that fall in tumour (and not in an exclusion). */
export function tumourCoverage(truth: TruthPolygons | null, x: number, y: number, size: number): number {
  if (!truth || truth.tumour.length === 0) return 0;
  const near = (polys: TruthPolygons['tumour']) =>
    polys
      .filter((p) => p.some(([px, py]) => px >= x - 1e6 && py >= y - 1e6))
      .filter((p) => {
        let x0 = Number.POSITIVE_INFINITY;
        let y0 = Number.POSITIVE_INFINITY;
        let x1 = Number.NEGATIVE_INFINITY;
        let y1 = Number.NEGATIVE_INFINITY;
        for (const [px, py] of p) {
          x0 = Math.min(x0, px);
          y0 = Math.min(y0, py);
          x1 = Math.max(x1, px);
          y1 = Math.max(y1, py);
        }
        return x1 >= x && x0 <= x + size && y1 >= y && y0 <= y + size;
      });
  const tumour = near(truth.tumour);
  if (!tumour.length) return 0;
  const exclusion = near(truth.exclusion);
  let hits = 0;
  for (let j = 0; j < 8; j++)
    for (let i = 0; i < 8; i++) {
      const px = x + ((i + 0.5) / 8) * size;
      const py = y + ((j + 0.5) / 8) * size;
      if (tumour.some((p) => inside(p, px, py)) && !exclusion.some((p) => inside(p, px, py))) hits++;
    }
  return hits / 64;
}

export interface PatchSetOptions {
  mpp: number;
  patchSize: number;
  minTissue?: number;
  positiveCoverage?: number;
  onSlide?: (done: number, name: string) => void;
}

export async function buildPatchSet(slides: SlideSource[], o: PatchSetOptions): Promise<PatchSet> {
  const minTissue = o.minTissue ?? 0.5;
  const positiveCoverage = o.positiveCoverage ?? 0.25;
  const P = o.patchSize;
  const refs: PatchRef[] = [];
  const chunks: Uint8Array[] = [];
  const slideMpp: number[] = [];
  for (let s = 0; s < slides.length; s++) {
    const slide = await openSlide(slides[s].path);
    try {
      if (!slide.mpp)
        throw new MissingResolutionError(`${slides[s].path} does not say its µm/px; training needs it`);
      slideMpp.push(slide.mpp.x);
      const size = Math.round((P * o.mpp) / slide.mpp.x); // level-0 pixels per patch side
      const cols = Math.floor(slide.width / size);
      const rows = Math.floor(slide.height / size);
      const tissue = await tissueMask(slide);
      for (let r = 0; r < rows; r++) {
        const rowRefs: { col: number; label: 0 | 1 }[] = [];
        for (let c = 0; c < cols; c++) {
          const x = c * size;
          const y = r * size;
          if (tissueFraction(tissue, slide.mpp.x, x, y, size, size) < minTissue) continue;
          const cover = tumourCoverage(slides[s].truth, x, y, size);
          if (cover > 0 && cover < positiveCoverage) continue; // ambiguous border patch
          rowRefs.push({ col: c, label: cover > 0 ? 1 : 0 });
        }
        if (!rowRefs.length) continue;
        const c0 = rowRefs[0].col;
        const c1 = rowRefs[rowRefs.length - 1].col;
        const strip = await slide.readAt({
          x: c0 * size,
          y: r * size,
          width: (c1 - c0 + 1) * P,
          height: P,
          mpp: o.mpp,
        });
        const sw = strip.width;
        for (const { col, label } of rowRefs) {
          const patch = new Uint8Array(P * P * 3);
          const ox = (col - c0) * P;
          for (let y = 0; y < P; y++)
            for (let x = 0; x < P; x++) {
              const src = (y * sw + ox + x) * strip.channels;
              const dst = (y * P + x) * 3;
              patch[dst] = strip.data[src];
              patch[dst + 1] = strip.data[src + 1];
              patch[dst + 2] = strip.data[src + 2];
            }
          chunks.push(patch);
          refs.push({ slide: s, x: col * size, y: r * size, size, label });
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
  };
}
