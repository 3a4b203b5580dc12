/** Inputs of a stage from the command line: slide files, folders of slides, URLs. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { SlideNotFoundError } from '../errors.ts';

const SLIDE_EXTENSIONS = new Set(['.svs', '.tif', '.tiff', '.ndpi', '.scn', '.dcm', '.png', '.jpg', '.jpeg']);

/** Slide files from paths that are files or folders (a folder's slide files, sorted); URLs pass through. */
export function expandSlidePaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (/^https?:\/\//.test(p)) {
      out.push(p);
      continue;
    }
    if (!existsSync(p)) throw new SlideNotFoundError(`no such slide or folder: ${p}`);
    if (statSync(p).isDirectory()) {
      const files = readdirSync(p)
        .filter((f) => SLIDE_EXTENSIONS.has(extname(f).toLowerCase()))
        .sort()
        .map((f) => resolve(p, f));
      if (files.length === 0) throw new SlideNotFoundError(`no slide files in folder ${p}`);
      out.push(...files);
    } else out.push(resolve(p));
  }
  return [...new Set(out)];
}
