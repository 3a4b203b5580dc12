/** Human-readable lines for a stain estimate (what `wsi stain` prints). */
import { angleDeg } from './linalg.ts';
import type { StainEstimate, Vec3 } from './types.ts';

/** Ruifrok & Johnston 2001 H and E OD vectors, the usual point of comparison. */
export const RUIFROK_H: Vec3 = [0.65, 0.7, 0.29];
export const RUIFROK_E: Vec3 = [0.07, 0.99, 0.11];

const v3 = (v: readonly number[], d = 3) => `[${v.map((x) => x.toFixed(d)).join(', ')}]`;

export function describeEstimate(e: StainEstimate): string[] {
  if (e.method === 'reinhard') return [`reinhard: tissue L*a*b* mean ${v3(e.mean, 2)}, sd ${v3(e.std, 2)}`];
  return [
    `${e.method}: haematoxylin OD ${v3(e.h)} (${angleDeg(e.h, RUIFROK_H).toFixed(1)}° from Ruifrok–Johnston H)`,
    `${e.method}: eosin        OD ${v3(e.e)} (${angleDeg(e.e, RUIFROK_E).toFixed(1)}° from Ruifrok–Johnston E)`,
    `${e.method}: 99th-percentile concentration H ${e.maxConc[0].toFixed(3)}, E ${e.maxConc[1].toFixed(3)}; glass RGB ${v3(e.background, 0)}`,
  ];
}
