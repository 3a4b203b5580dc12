/**
 * Stable slide identity from content, never from the path: SHA-256 over the file size, its first
 * 64 KiB, the level sizes, the compressed size of every tile of every level (a fingerprint of the
 * whole image that costs no extra I/O) and the compressed tiles of the smallest level, capped at
 * 256 KiB. Bounded work however large the slide, and cheap over HTTP.
 */
import { createHash } from 'node:crypto';
import type { LevelSource } from './level.ts';
import { tileColumns, tileRows } from './level.ts';

export const HEADER_BYTES = 64 * 1024;
const MAX_TILE_BYTES = 256 * 1024;

export async function contentId(
  fileSize: number,
  header: Uint8Array,
  levels: readonly LevelSource[],
  tileByteCounts: readonly Float64Array[] = [],
): Promise<string> {
  const h = createHash('sha256');
  h.update(`wsi-slide-id/1 size=${fileSize}\n`);
  h.update(header);
  for (const l of levels) h.update(`${l.width}x${l.height}/${l.tileWidth}x${l.tileHeight}\n`);
  for (const counts of tileByteCounts)
    h.update(new Uint8Array(counts.buffer, counts.byteOffset, counts.byteLength));
  const smallest = levels[levels.length - 1];
  let budget = MAX_TILE_BYTES;
  outer: for (let row = 0; row < tileRows(smallest); row++) {
    for (let col = 0; col < tileColumns(smallest); col++) {
      const raw = await smallest.readRawTile(col, row);
      h.update(raw.subarray(0, budget));
      budget -= Math.min(budget, raw.length);
      if (budget <= 0) break outer;
    }
  }
  return h.digest('hex');
}
