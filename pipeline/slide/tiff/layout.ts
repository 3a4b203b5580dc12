/**
 * Which pages of a TIFF are pyramid levels and which are associated images, per layout:
 * - Aperio SVS: levels are the tiled pages; the 2nd page is the thumbnail, label/macro say so.
 * - OME-TIFF: the first image's page and its SubIFDs (reduced resolutions), PhysicalSizeX/Y as MPP.
 * - Generic (libvips/sharp): page 0 and either its SubIFDs or the following reduced-resolution pages.
 */
import type { IfdInfo } from './ifd.ts';

export type Layout = 'aperio' | 'ome' | 'generic';

export interface Page {
  /** Position in the main IFD chain, or -1 for a SubIFD. */
  index: number;
  info: IfdInfo;
}

export interface Classified {
  levels: Page[];
  associated: { name: string; page: Page }[];
}

const REDUCED_RESOLUTION = 1;

export function classifyPages(layout: Layout, pages: Page[], subIfds: Page[]): Classified {
  if (layout === 'aperio') {
    const levels: Page[] = [];
    const associated: Classified['associated'] = [];
    for (const p of pages) {
      // Aperio levels are the tiled pages (the first is always a level, whatever its layout).
      if (p.info.tiled || p.index === 0) {
        levels.push(p);
        continue;
      }
      const name = aperioName(p);
      if (name && !associated.some((a) => a.name === name)) associated.push({ name, page: p });
    }
    return { levels: sortLevels(levels), associated };
  }
  if (subIfds.length > 0) return { levels: sortLevels([pages[0], ...subIfds]), associated: [] };
  if (layout === 'ome') return { levels: [pages[0]], associated: [] };
  const base = pages[0];
  const levels = [base];
  for (const p of pages.slice(1)) {
    const prev = levels[levels.length - 1].info;
    const smaller = p.info.width < prev.width && p.info.height <= prev.height;
    const sameAspect =
      Math.abs(p.info.width / p.info.height - base.info.width / base.info.height) <
      0.05 * (base.info.width / base.info.height) + 2 / p.info.height;
    if ((p.info.subfileType & REDUCED_RESOLUTION) !== 0 && smaller && sameAspect) levels.push(p);
  }
  return { levels, associated: [] };
}

function aperioName(p: Page): string | undefined {
  const d = p.info.description;
  if (/\blabel\b/i.test(d)) return 'label';
  if (/\bmacro\b/i.test(d)) return 'macro';
  if (p.index === 1) return 'thumbnail';
  if (p.info.subfileType === 1) return 'label';
  if (p.info.subfileType === 9) return 'macro';
  return undefined;
}

function sortLevels(levels: Page[]): Page[] {
  return [...levels].sort((a, b) => b.info.width - a.info.width);
}
