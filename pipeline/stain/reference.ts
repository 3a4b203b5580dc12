/**
 * Built-in targets, for normalising without a reference slide: Macenko's reference H&E matrix and
 * concentration percentiles as distributed with the method's widely used implementation
 * (HERef = [[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]], maxCRef = [1.9705, 1.0308], I₀ = 240).
 * Reinhard has no such published reference: it needs a target slide or a saved target.
 */
import { unit } from './linalg.ts';
import type { StainMatrix, StainMethod } from './types.ts';

export function referenceTarget(method: Exclude<StainMethod, 'reinhard'>): StainMatrix {
  return {
    method,
    h: unit([0.5626, 0.7201, 0.4062]),
    e: unit([0.2159, 0.8012, 0.5581]),
    maxConc: [1.9705, 1.0308],
    background: [240, 240, 240],
  };
}
