/**
 * FROC over folders in the CAMELYON layout: one detections CSV per slide (`<slide>.csv`) and one ASAP XML
 * per tumour slide (`<slide>.xml`); a slide without XML is normal.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { readAsapTruth, type TruthPolygons } from './asap.ts';
import { readDetectionsCsv } from './detections.ts';
import {
  computeFroc,
  type Detection,
  EVAL_LEVEL,
  evaluationMask,
  type FrocResult,
  scoreSlide,
} from './froc.ts';
import { slideStem } from './tables.ts';

export interface SlideGeometry {
  /** Level-0 size. */
  width: number;
  height: number;
  /** Level-0 µm per pixel. */
  mpp: number;
}

export interface FrocInputs {
  /** Slide names (stems) to score; every one counts in the FPs-per-slide denominator. */
  slides: string[];
  detections: (name: string) => Detection[];
  truth: (name: string) => TruthPolygons | null;
  geometry: (name: string) => Partial<SlideGeometry>;
  defaultMpp: number;
}

export interface FrocReport extends FrocResult {
  perSlide: { name: string; tumour: boolean; lesions: number; itc: number; hits: number; fps: number }[];
}

export function evaluateFroc(inputs: FrocInputs): FrocReport {
  const outcomes = [];
  const perSlide: FrocReport['perSlide'] = [];
  for (const name of inputs.slides) {
    const truth = inputs.truth(name);
    const geo = inputs.geometry(name);
    const mpp = geo.mpp ?? inputs.defaultMpp;
    const ds = 2 ** EVAL_LEVEL;
    const size =
      geo.width && geo.height
        ? { width: Math.ceil(geo.width / ds), height: Math.ceil(geo.height / ds) }
        : undefined;
    const mask = truth?.tumour.length ? evaluationMask(truth, mpp, size) : null;
    const outcome = scoreSlide(name, inputs.detections(name), mask);
    outcomes.push(outcome);
    perSlide.push({
      name,
      tumour: mask !== null,
      lesions: outcome.lesions,
      itc: mask ? mask.itc.size : 0,
      hits: outcome.hits.length,
      fps: outcome.fpProbs.length,
    });
  }
  return { ...computeFroc(outcomes), perSlide };
}

function listStems(dir: string, ext: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${dir} is not a directory`);
  return readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith(ext))
    .map((f) => slideStem(f))
    .sort();
}

/**
 * Inputs from folders. The slide list is the detection CSVs plus any tumour XML without a CSV (a slide
 * with no detections still has lesions to miss); with `slideNames` (e.g. from --slides) that list is used.
 */
export function frocInputsFromDirs(options: {
  detectionsDir: string;
  truthDir: string;
  defaultMpp: number;
  slideNames?: string[];
  geometry?: (name: string) => Partial<SlideGeometry>;
}): FrocInputs {
  const csvs = new Set(listStems(options.detectionsDir, '.csv'));
  const xmls = new Set(listStems(options.truthDir, '.xml'));
  const slides = options.slideNames ?? [...new Set([...csvs, ...xmls])].sort();
  if (slides.length === 0) throw new ConfigError(`no detection CSVs in ${options.detectionsDir}`);
  return {
    slides,
    detections: (name) =>
      csvs.has(name) ? readDetectionsCsv(join(options.detectionsDir, `${name}.csv`)) : [],
    truth: (name) => (xmls.has(name) ? readAsapTruth(join(options.truthDir, `${name}.xml`)) : null),
    geometry: options.geometry ?? (() => ({})),
    defaultMpp: options.defaultMpp,
  };
}
