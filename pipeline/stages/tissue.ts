/**
 * The `tissue` stage: the tissue of many slides, one 'tissue-detect' task per slide. Each slide's
 * fraction (of the slide's area) is its score in slide_results; the details hold the area in mm², the
 * number of pieces and the outline as a QuPath GeoJSON FeatureCollection in level-0 pixels.
 */
import type { Stage } from '../stage/types.ts';
import { upsertSlideScore } from '../store/models-queries.ts';

export interface TissueStageOptions {
  targetMpp?: number;
  assumeMpp?: number;
}

export function tissueStage(o: TissueStageOptions): Stage<null, 'tissue-detect'> {
  return {
    kind: 'tissue',
    taskKind: 'tissue-detect',
    unit: 'slides',
    identity: () => ({ config: { targetMpp: o.targetMpp ?? 8, assumeMpp: o.assumeMpp ?? null } }),
    async plan(_ctx, s) {
      return {
        state: null,
        tasks: [
          {
            units: 1,
            payload: {
              slidePath: s.slide?.source ?? s.source,
              assumeMpp: o.assumeMpp,
              targetMpp: o.targetMpp,
            },
          },
        ],
      };
    },
    finish(ctx, s, _state, [r]) {
      upsertSlideScore(ctx.store, ctx.runId, s.id, r.fraction, {
        fraction: r.fraction,
        areaMm2: r.areaMm2,
        pieces: r.pieces,
        geojson: JSON.parse(r.geojson) as unknown,
      });
      return r.pieces;
    },
  };
}
