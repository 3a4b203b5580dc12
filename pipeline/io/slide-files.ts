/**
 * Which files are slides, and the slide files named by a command line: files, folders (their slide files,
 * not recursive, sorted) and http(s) URLs. One extension list for every command: the formats openSlide
 * reads (TIFF family incl. Aperio SVS, Hamamatsu NDPI and Leica SCN containers; PNG; JPEG) and DICOM.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ConfigError, SlideNotFoundError } from '../errors.ts';
import { isDicomSeriesFolder } from '../slide/dicom/series-folder.ts';

export const SLIDE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.svs',
  '.tif',
  '.tiff',
  '.ndpi',
  '.scn',
  '.dcm',
  '.png',
  '.jpg',
  '.jpeg',
]);

export function isSlideFile(name: string): boolean {
  return SLIDE_EXTENSIONS.has(extname(name).toLowerCase());
}

/** A slide file's name without its folder and slide extension (`a/Tumor_001.tif` → `Tumor_001`). */
export function slideFileStem(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  return isSlideFile(base) ? base.slice(0, -extname(base).length) : base;
}

function isNonDicomSlideFile(name: string): boolean {
  return isSlideFile(name) && extname(name).toLowerCase() !== '.dcm';
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Names of the slide files directly inside `dir`, sorted. */
export function slideFileNames(dir: string): string[] {
  return readdirSync(dir).filter(isSlideFile).sort();
}

export interface ExpandOptions {
  /** Named in error messages (e.g. '--slides'). */
  what?: string;
  /** A folder without slide files is an error (default) or contributes nothing. */
  emptyFolder?: 'error' | 'skip';
}

/**
 * Slide paths from arguments that are files, folders or URLs: absolute, in argument order with each folder's
 * files sorted, each path once. Missing paths and (by default) folders without slides are SlideNotFoundError.
 * A folder of DICOM files is one slide when it holds one series; with several (a DICOM archive), each
 * whole-slide series is a slide, named by its first file (which opens with its series' other files).
 */
export async function expandSlidePaths(paths: readonly string[], o: ExpandOptions = {}): Promise<string[]> {
  const prefix = o.what ? `${o.what}: ` : '';
  const out: string[] = [];
  for (const p of paths) {
    if (isUrl(p)) {
      out.push(p);
      continue;
    }
    if (!existsSync(p)) throw new SlideNotFoundError(`${prefix}no such file or directory: ${p}`);
    if (statSync(p).isDirectory()) {
      // A folder of DICOM instances (and no other slides) is one slide: a series.
      if (isDicomSeriesFolder(p, isNonDicomSlideFile)) {
        // Loaded only here: commands that never meet a DICOM folder don't pay for the DICOM modules.
        const { dicomSlideSeriesIn } = await import('../slide/dicom/open-files.ts');
        const series = await dicomSlideSeriesIn(p);
        if (series.length > 1) out.push(...series.map((files) => resolve(files[0])));
        else out.push(resolve(p));
        continue;
      }
      const files = slideFileNames(p).map((f) => resolve(join(p, f)));
      if (files.length === 0 && o.emptyFolder !== 'skip')
        throw new SlideNotFoundError(
          `${prefix}no slide files (${[...SLIDE_EXTENSIONS].join(' ')}) in folder ${p}`,
        );
      out.push(...files);
    } else out.push(resolve(p));
  }
  return [...new Set(out)];
}

const IMAGE = /\.(png|jpe?g|tiff?)$/i;
/** Ground-truth files that sit beside dataset images and are not images to count. */
const NOT_AN_IMAGE_TO_COUNT = /(_dots|dots\.|_labels|_mask)/i;

/**
 * Images to count (`wsi count`): files named on the command line plus the images directly inside named
 * folders (not their ground-truth dot, label or mask files), absolute, sorted, each once.
 */
export function expandImagePaths(inputs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new ConfigError(`${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      for (const f of readdirSync(input)) {
        if (IMAGE.test(f) && !NOT_AN_IMAGE_TO_COUNT.test(f)) out.add(resolve(input, f));
      }
    } else out.add(resolve(input));
  }
  if (out.size === 0) throw new ConfigError(`no images found in ${inputs.join(', ')}`);
  return [...out].sort();
}
