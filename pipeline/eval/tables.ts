/**
 * Slide-level CSVs: reference labels in CAMELYON16 style (`name,Tumor|Normal[,...]`) and predictions
 * (`name,probability`). Slide names are compared without directory and extension.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseLabelsCsv as parseSlideLabels, readLabelsCsv as readSlideLabels } from '../slide-labels.ts';

export function slideStem(name: string): string {
  const base = basename(name.trim());
  const ext = extname(base);
  return ext && /^\.(tif|tiff|svs|ndpi|mrxs|xml|csv|png|jpg)$/i.test(ext) ? base.slice(0, -ext.length) : base;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read ${what} file ${path}`);
  }
}

function rows(text: string): { line: number; cells: string[] }[] {
  return text
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, cells: l.split(',').map((c) => c.trim()) }))
    .filter((r) => r.cells.some((c) => c !== ''));
}

/** Reference labels (pipeline/slide-labels.ts), keyed by slideStem: names keep their case here. */
export function parseLabelsCsv(text: string, source = 'labels CSV'): Map<string, 0 | 1> {
  return parseSlideLabels(text, source, slideStem);
}

export function parsePredictionsCsv(text: string, source = 'predictions CSV'): Map<string, number> {
  const out = new Map<string, number>();
  for (const { line, cells } of rows(text)) {
    const p = Number(cells[1]);
    if (cells[1] === undefined || cells[1] === '' || !Number.isFinite(p)) {
      if (line === 1) continue; // header
      throw new ConfigError(`${source}:${line}: probability is not a number: '${cells[1] ?? ''}'`);
    }
    out.set(slideStem(cells[0]), p);
  }
  if (out.size === 0) throw new ConfigError(`${source}: no predictions`);
  return out;
}

export const readLabelsCsv = (path: string): Map<string, 0 | 1> => readSlideLabels(path, slideStem);
export const readPredictionsCsv = (path: string): Map<string, number> =>
  parsePredictionsCsv(readText(path, 'predictions'), path);

/** Pairs predictions with labels; every labelled slide needs a prediction. */
export function joinPredictions(
  predictions: Map<string, number>,
  labels: Map<string, 0 | 1>,
): { names: string[]; scores: number[]; labels: number[] } {
  const missing = [...labels.keys()].filter((k) => !predictions.has(k));
  if (missing.length)
    throw new ConfigError(`no prediction for ${missing.length} labelled slide(s), e.g. '${missing[0]}'`);
  const names = [...labels.keys()].sort();
  return { names, scores: names.map((n) => predictions.get(n)!), labels: names.map((n) => labels.get(n)!) };
}
