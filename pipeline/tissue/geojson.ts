/** The tissue outline as a QuPath-readable GeoJSON FeatureCollection: one 'Tissue' annotation per piece. */
import type { TissueMask } from './types.ts';

type Ring = Array<[number, number]>;

const close = (ring: Ring): Ring => [...ring, ring[0]];

export function tissueGeoJson(mask: TissueMask) {
  return {
    type: 'FeatureCollection' as const,
    features: mask.regions.map((r, i) => ({
      type: 'Feature' as const,
      geometry: { type: 'Polygon' as const, coordinates: [close(r.outer), ...r.holes.map(close)] },
      properties: {
        objectType: 'annotation',
        name: `Tissue ${i + 1}`,
        isLocked: false,
        classification: { name: 'Tissue', color: [0, 150, 0] },
      },
    })),
  };
}
