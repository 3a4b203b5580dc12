/**
 * Top-attention patch strips for reports: the k patches with the highest attention of a slide in a
 * 'mil' run, read from the slide at a display resolution and laid side by side in one PNG.
 */
import sharp from 'sharp';
import { openSlide } from '../slide/index.ts';
import { saveImageFile } from '../slide/write-image.ts';
import type { Store } from '../store/db.ts';
import { type AttentionPatch, topAttention } from '../store/viewer-queries.ts';

export interface GalleryStrip {
  file: string;
  patches: AttentionPatch[];
}

/** Writes `file` (PNG) with the slide's top-`k` attention patches, each `tile` pixels square. */
export async function writeAttentionStrip(
  store: Store,
  runId: number,
  slide: { id: string; path: string },
  file: string,
  options: { k?: number; tile?: number } = {},
): Promise<GalleryStrip> {
  const k = options.k ?? 4;
  const tile = options.tile ?? 128;
  const patches = topAttention(store, runId, slide.id, k);
  const s = await openSlide(slide.path);
  try {
    const images = [];
    for (const p of patches) {
      // Read the patch footprint at the coarsest level still finer than the tile, then fit to the tile.
      const ds = s.levels.reduce((best, l, i) => (p.width / l.downsample >= tile ? i : best), 0);
      const l = s.levels[ds];
      const img = await s.readRegion({
        x: p.x,
        y: p.y,
        width: Math.max(1, Math.round(p.width / l.downsample)),
        height: Math.max(1, Math.round(p.height / l.downsample)),
        level: ds,
      });
      const png = await sharp(img.data, {
        raw: { width: img.width, height: img.height, channels: img.channels },
      })
        .resize(tile, tile, { fit: 'fill' })
        .png()
        .toBuffer();
      images.push(png);
    }
    const gap = 4;
    const width = Math.max(1, patches.length * tile + Math.max(0, patches.length - 1) * gap);
    await saveImageFile(
      sharp({ create: { width, height: tile, channels: 3, background: '#ffffff' } })
        .composite(images.map((input, i) => ({ input, left: i * (tile + gap), top: 0 })))
        .png(),
      file,
    );
    return { file, patches };
  } finally {
    await s.close();
  }
}
