/**
 * A slide is one series: instances grouped by Series Instance UID, checked to agree, VOLUME
 * instances grouped into levels by size (largest first), LABEL / OVERVIEW / THUMBNAIL kept aside.
 */
import { DicomNotSlideError, DicomSeriesError } from '../../errors.ts';
import type { WsiInstance } from './instance.ts';

export interface SeriesLayout {
  studyUid: string;
  seriesUid: string;
  /** Level 0 first; each level's instances in concatenation / instance-number order. */
  levels: WsiInstance[][];
  /** 'label', 'macro' (OVERVIEW), 'thumbnail' → that image's instances. */
  associated: Map<string, WsiInstance[]>;
}

const ASSOCIATED_NAME = { LABEL: 'label', OVERVIEW: 'macro', THUMBNAIL: 'thumbnail' } as const;

/** Picks the series: the one `preferSeries` names, or the only one there is. */
export function chooseSeries(
  instances: readonly WsiInstance[],
  where: string,
  preferSeries?: string,
): WsiInstance[] {
  if (instances.length === 0) throw new DicomNotSlideError(`${where}: no DICOM whole-slide images found`);
  const bySeries = new Map<string, WsiInstance[]>();
  for (const i of instances) {
    const list = bySeries.get(i.seriesUid) ?? [];
    list.push(i);
    bySeries.set(i.seriesUid, list);
  }
  if (preferSeries !== undefined) {
    const s = bySeries.get(preferSeries);
    if (s) return s;
  }
  if (bySeries.size > 1) {
    throw new DicomSeriesError(
      `${where}: holds ${bySeries.size} DICOM series (${[...bySeries.keys()].join(', ')}); open one series at a time`,
    );
  }
  return [...bySeries.values()][0];
}

function order(a: WsiInstance, b: WsiInstance): number {
  return (
    a.frameOffset - b.frameOffset ||
    a.instanceNumber - b.instanceNumber ||
    a.sopInstanceUid.localeCompare(b.sopInstanceUid)
  );
}

export function layoutSeries(instances: readonly WsiInstance[], where: string): SeriesLayout {
  const first = instances[0];
  const seen = new Set<string>();
  for (const i of instances) {
    if (i.studyUid !== first.studyUid) {
      throw new DicomSeriesError(
        `${where}: instances of series ${first.seriesUid} disagree on the study (${first.studyUid} in ${first.where}, ${i.studyUid} in ${i.where})`,
      );
    }
    if (seen.has(i.sopInstanceUid)) {
      throw new DicomSeriesError(`${where}: instance ${i.sopInstanceUid} appears twice (${i.where})`);
    }
    seen.add(i.sopInstanceUid);
  }
  const bySize = new Map<string, WsiInstance[]>();
  const associated = new Map<string, WsiInstance[]>();
  for (const i of instances) {
    if (i.flavor !== 'VOLUME') {
      const name = ASSOCIATED_NAME[i.flavor];
      associated.set(name, [...(associated.get(name) ?? []), i].sort(order));
      continue;
    }
    const key = `${i.width}x${i.height}`;
    bySize.set(key, [...(bySize.get(key) ?? []), i]);
  }
  if (bySize.size === 0)
    throw new DicomNotSlideError(
      `${where}: the series has no VOLUME images (only ${[...associated.keys()].join(', ')})`,
    );
  const levels = [...bySize.values()]
    .map((l) => l.sort(order))
    .sort((a, b) => b[0].width * b[0].height - a[0].width * a[0].height);
  const l0 = levels[0][0];
  for (const level of levels) {
    const a = level[0];
    for (const i of level) {
      if (i.tileWidth !== a.tileWidth || i.tileHeight !== a.tileHeight) {
        throw new DicomSeriesError(
          `${where}: instances of the ${a.width}×${a.height} level disagree on the tile size (${a.tileWidth}×${a.tileHeight} in ${a.where}, ${i.tileWidth}×${i.tileHeight} in ${i.where})`,
        );
      }
    }
    // A level's pixel spacing must agree with its size: a different scan mixed into the series otherwise.
    if (a.pixelSpacingMm && l0.pixelSpacingMm) {
      const expected = (l0.pixelSpacingMm[1] * l0.width) / a.width;
      if (Math.abs(a.pixelSpacingMm[1] - expected) > 0.05 * expected) {
        throw new DicomSeriesError(
          `${where}: the ${a.width}×${a.height} level's pixel spacing (${a.pixelSpacingMm[1]} mm) disagrees with level 0's (${l0.pixelSpacingMm[1]} mm at ${l0.width} px wide)`,
        );
      }
    }
  }
  return { studyUid: first.studyUid, seriesUid: first.seriesUid, levels, associated };
}
