/**
 * Counting datasets on disk: images paired with dot annotations (VGG `NNNcell.png` + `NNNdots.png`,
 * MBM `X_NNN.png` + `X_dots_NNN.png`, or any `name.png` + `name_dots.png` / `name.png` in a dots folder)
 * or with instance label maps (`name_labels.png`, MoNuSeg), whose nuclei centroids become dots.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Dot } from './density-targets.ts';
import { readDots, readImage, readLabelMap } from './image-io.ts';
import type { PixelImage } from './types.ts';

export interface AnnotatedImage {
  name: string;
  imagePath: string;
  /** A dot image or an instance label map. */
  annotationPath: string;
  annotation: 'dots' | 'labels';
}

const IMAGE = /\.(png|jpe?g|tiff?)$/i;
const ANNOTATION = /(dots|labels)/i;

/** Candidate annotation file names for an image file name, most specific first. */
function annotationNames(file: string, kind: 'dots' | 'labels'): string[] {
  const ext = path.extname(file);
  const stem = file.slice(0, -ext.length);
  const names = [`${stem}_${kind}${ext}`, `${stem}_${kind}.png`, file];
  if (kind === 'dots') {
    if (/cell$/.test(stem)) names.unshift(`${stem.replace(/cell$/, 'dots')}${ext}`);
    const m = /^(.*)_(\d+)$/.exec(stem);
    if (m) names.unshift(`${m[1]}_dots_${m[2]}${ext}`);
  }
  return names;
}

/** Pairs every image in `imagesDir` with its annotation in `annotationDir` (default: the same folder). */
export function listAnnotated(
  imagesDir: string,
  annotationDir: string | undefined,
  kind: 'dots' | 'labels',
): AnnotatedImage[] {
  if (!existsSync(imagesDir) || !statSync(imagesDir).isDirectory()) {
    throw new ConfigError(`--images: ${imagesDir} is not a folder`);
  }
  const annDir = annotationDir ?? imagesDir;
  if (!existsSync(annDir) || !statSync(annDir).isDirectory())
    throw new ConfigError(`--${kind}: ${annDir} is not a folder`);
  const out: AnnotatedImage[] = [];
  for (const file of readdirSync(imagesDir).sort()) {
    if (!IMAGE.test(file) || ANNOTATION.test(file)) continue;
    const candidates = annotationNames(file, kind).filter((n) => annDir !== imagesDir || n !== file);
    const found = candidates.find((n) => existsSync(path.join(annDir, n)));
    if (!found) continue;
    out.push({
      name: file,
      imagePath: path.join(imagesDir, file),
      annotationPath: path.join(annDir, found),
      annotation: kind,
    });
  }
  if (out.length === 0)
    throw new ConfigError(`no annotated images found in ${imagesDir} (${kind} in ${annDir})`);
  return out;
}

/** Centroids of the instances of a label map. */
export function labelCentroids(labels: Int32Array, width: number): Dot[] {
  const sums = new Map<number, [number, number, number]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === 0) continue;
    const s = sums.get(l) ?? [0, 0, 0];
    s[0] += i % width;
    s[1] += Math.floor(i / width);
    s[2]++;
    sums.set(l, s);
  }
  return [...sums.values()].map(([sx, sy, n]) => ({ x: sx / n, y: sy / n }));
}

export async function loadAnnotated(item: AnnotatedImage): Promise<{ image: PixelImage; dots: Dot[] }> {
  const image = await readImage(item.imagePath);
  if (item.annotation === 'dots') return { image, dots: await readDots(item.annotationPath) };
  const lab = await readLabelMap(item.annotationPath);
  return { image, dots: labelCentroids(lab.labels, lab.width) };
}
