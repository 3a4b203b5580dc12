/** Worker task: the tissue of one slide (fraction, area, outline polygons as GeoJSON). */
import { openSlide } from '../pipeline/slide/index.ts';
import type { TaskPayload, TaskResult } from '../pipeline/tasks.ts';
import { detectTissue, tissueGeoJson } from '../pipeline/tissue/index.ts';

export async function run(p: TaskPayload<'tissue-detect'>): Promise<TaskResult<'tissue-detect'>> {
  const slide = await openSlide(p.slidePath, p.assumeMpp ? { fallbackMpp: p.assumeMpp } : undefined);
  try {
    const mask = await detectTissue(slide, p.targetMpp ? { targetMpp: p.targetMpp } : {});
    let n = 0;
    for (const v of mask.data) n += v;
    const um = mask.umPerPixel;
    return {
      fraction: n / mask.data.length,
      areaMm2: um ? (n * um * um) / 1e6 : null,
      pieces: mask.regions.length,
      geojson: JSON.stringify(tissueGeoJson(mask)),
    };
  } finally {
    await slide.close();
  }
}
