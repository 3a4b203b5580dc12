/**
 * A CAMELYON-style folder: slides (DIR/slides/ or DIR itself; any file pipeline/io/slide-files.ts calls a
 * slide), ASAP XML ground truth (DIR/annotations/<slide>.xml or DIR/<slide>.xml; none = normal slide) and
 * slide labels (DIR/reference.csv or the only other .csv; without one, a slide is Tumor when its XML has
 * tumour polygons).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { readAsapTruth, type TruthPolygons } from '../eval/asap.ts';
import { SLIDE_EXTENSIONS, slideFileNames, slideFileStem } from '../io/slide-files.ts';
import { readLabelsCsv, slideKey } from '../slide-labels.ts';

export interface StudySlide {
  name: string;
  path: string;
  annotation: string | null;
  label: 0 | 1;
}

export interface StudyFolder {
  dir: string;
  slidesDir: string;
  annotationsDir: string;
  slides: StudySlide[];
  labelSource: string;
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

export function readStudyFolder(dir: string, what: string): StudyFolder {
  if (!isDir(dir)) throw new ConfigError(`${what}: ${dir} is not a directory`);
  const slidesDir = isDir(join(dir, 'slides')) ? join(dir, 'slides') : dir;
  const annotationsDir = isDir(join(dir, 'annotations')) ? join(dir, 'annotations') : dir;
  const files = slideFileNames(slidesDir);
  if (files.length === 0)
    throw new ConfigError(`${what}: no slide files (${[...SLIDE_EXTENSIONS].join(' ')}) in ${slidesDir}`);
  const csvs = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.csv'));
  const csv = csvs.includes('reference.csv') ? 'reference.csv' : csvs.length === 1 ? csvs[0] : undefined;
  const labels = csv ? readLabelsCsv(join(dir, csv)) : undefined;
  const slides = files.map((f) => {
    const name = slideFileStem(f);
    const xml = join(annotationsDir, `${name}.xml`);
    const annotation = existsSync(xml) ? xml : null;
    let label = labels?.get(slideKey(f));
    if (labels && label === undefined)
      throw new ConfigError(`${what}: ${join(dir, csv as string)} has no label for ${f}`);
    label ??= annotation && readAsapTruth(annotation).tumour.length > 0 ? 1 : 0;
    return { name, path: join(slidesDir, f), annotation, label };
  });
  return { dir, slidesDir, annotationsDir, slides, labelSource: csv ? join(dir, csv) : 'annotations' };
}

export function truthOf(slide: StudySlide): TruthPolygons | null {
  return slide.annotation ? readAsapTruth(slide.annotation) : null;
}
