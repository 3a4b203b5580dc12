/**
 * The slide id of a DICOM series, from what files and DICOMweb both give byte for byte: the study,
 * series and instance UIDs, the level geometry, and the smallest level's frames (capped at 256 KiB;
 * trailing pad bytes dropped, since fragments are padded to even length in files). So the same
 * slide read from files or from a server has the same id.
 */
import { createHash } from 'node:crypto';
import type { LevelSource } from '../level.ts';
import { tileColumns, tileRows } from '../level.ts';

const MAX_TILE_BYTES = 256 * 1024;

function trimPadding(b: Uint8Array): Uint8Array {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

export async function dicomContentId(
  studyUid: string,
  seriesUid: string,
  levelInstanceUids: readonly (readonly string[])[],
  levels: readonly LevelSource[],
): Promise<string> {
  const h = createHash('sha256');
  h.update(`wsi-dicom-id/1 study=${studyUid} series=${seriesUid}\n`);
  levels.forEach((l, i) => {
    h.update(
      `${l.width}x${l.height}/${l.tileWidth}x${l.tileHeight} ${[...levelInstanceUids[i]].sort().join(',')}\n`,
    );
  });
  const smallest = levels[levels.length - 1];
  let budget = MAX_TILE_BYTES;
  outer: for (let row = 0; row < tileRows(smallest); row++) {
    for (let col = 0; col < tileColumns(smallest); col++) {
      const raw = trimPadding(await smallest.readRawTile(col, row));
      h.update(raw.subarray(0, budget));
      budget -= Math.min(budget, raw.length);
      if (budget <= 0) break outer;
    }
  }
  return h.digest('hex');
}
