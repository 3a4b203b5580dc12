/**
 * Scores one of our runs against CAMELYON-style truth: lesion detections from each slide's patch scores
 * (non-maximum suppression), FROC against ASAP XML, and slide-level AUC with the slide score = max patch score.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Store } from '../store/db.ts';
import { scoredPatchesOfRun, slidesOfRun } from '../store/training-queries.ts';
import { readAsapTruth } from './asap.ts';
import { type AucWithCi, rocAucWithCi } from './auc.ts';
import { detectionsFromScores, type ScoredPoint, writeDetectionsCsv } from './detections.ts';
import { evaluateFroc, type FrocReport } from './evaluate.ts';
import type { Detection } from './froc.ts';
import { slideStem } from './tables.ts';

export interface RunEvalOptions {
  truthDir: string;
  /** Reference labels; default: a slide is Tumor when its XML has tumour polygons. */
  labels?: Map<string, 0 | 1>;
  /** Patch score needed to report a detection. */
  threshold?: number;
  /** Suppression radius in level-0 pixels; default two patch widths. */
  radius?: number;
  defaultMpp: number;
  /** Folder for the CAMELYON CSVs (`<slide>.csv` detections, `predictions.csv`). */
  outDir?: string;
  seed?: number;
}

export interface RunEvalReport {
  froc: FrocReport | null;
  auc: AucWithCi | null;
  slides: { name: string; score: number; label: 0 | 1; detections: number }[];
}

export function evaluateRun(store: Store, runId: number, options: RunEvalOptions): RunEvalReport {
  const slides = slidesOfRun(store, runId);
  if (slides.length === 0) throw new ConfigError(`run ${runId} has no slides (is the run id right?)`);
  const patches = scoredPatchesOfRun(store, runId);
  if (patches.length === 0) throw new ConfigError(`run ${runId} has no scored patches`);
  const bySlide = new Map<string, { points: ScoredPoint[]; size: number }>();
  for (const p of patches) {
    const name = slideStem(p.slideName);
    let entry = bySlide.get(name);
    if (!entry) {
      entry = { points: [], size: p.width };
      bySlide.set(name, entry);
    }
    entry.points.push({ x: p.x + p.width / 2, y: p.y + p.height / 2, score: p.score });
  }
  const geometry = new Map(slides.map((s) => [slideStem(s.name), s]));
  const names = [...geometry.keys()].sort();
  const detections = new Map<string, Detection[]>();
  for (const name of names) {
    const entry = bySlide.get(name);
    detections.set(
      name,
      entry
        ? detectionsFromScores(entry.points, {
            threshold: options.threshold ?? 0.5,
            radius: options.radius ?? 2 * entry.size,
          })
        : [],
    );
  }
  const truth = new Map(
    names.map((n) => {
      const path = join(options.truthDir, `${n}.xml`);
      return [n, existsSync(path) ? readAsapTruth(path) : null] as const;
    }),
  );
  const slideRows = names.map((name) => {
    const points = bySlide.get(name)?.points ?? [];
    const score = points.reduce((m, p) => Math.max(m, p.score), 0);
    const fromTruth: 0 | 1 = truth.get(name)?.tumour.length ? 1 : 0;
    const label = options.labels ? options.labels.get(name) : fromTruth;
    if (label === undefined) throw new ConfigError(`no reference label for slide '${name}'`);
    return { name, score, label, detections: detections.get(name)!.length };
  });
  let froc: FrocReport | null = null;
  if ([...truth.values()].some((t) => t?.tumour.length)) {
    froc = evaluateFroc({
      slides: names,
      detections: (n) => detections.get(n)!,
      truth: (n) => truth.get(n) ?? null,
      geometry: (n) => {
        const g = geometry.get(n)!;
        return { width: g.width, height: g.height, mpp: g.mpp ?? undefined };
      },
      defaultMpp: options.defaultMpp,
    });
  }
  const positives = slideRows.filter((s) => s.label === 1).length;
  const auc =
    positives > 0 && positives < slideRows.length
      ? rocAucWithCi(
          slideRows.map((s) => s.score),
          slideRows.map((s) => s.label),
          { seed: options.seed ?? 1 },
        )
      : null;
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    for (const name of names) writeDetectionsCsv(join(options.outDir, `${name}.csv`), detections.get(name)!);
    writeFileSync(
      join(options.outDir, 'predictions.csv'),
      `${slideRows.map((s) => `${s.name},${s.score}`).join('\n')}\n`,
    );
  }
  return { froc, auc, slides: slideRows };
}
