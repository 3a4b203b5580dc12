/**
 * Receptive field and output stride of a chain of valid convolutions and poolings, computed from the
 * layer list (never written by hand). For such a chain, output grid point (i, j) of an input of size
 * n sees exactly the input window [i·stride, i·stride + receptiveField) in each axis, so a tile of size
 * receptiveField + (k − 1)·stride gives k × k scores that equal scoring each window as its own patch.
 */
import { ModelError } from '../errors.ts';

/** One spatial step of the chain: a convolution or a pooling window. */
export interface SpatialStep {
  kernel: number;
  stride: number;
  dilation: number;
}

export interface Geometry {
  /** Input pixels one output value depends on (per axis). */
  receptiveField: number;
  /** Input pixels between neighbouring output values (per axis). */
  stride: number;
}

export function geometryOf(steps: readonly SpatialStep[]): Geometry {
  let receptiveField = 1;
  let stride = 1;
  for (const s of steps) {
    if (!(s.kernel >= 1 && s.stride >= 1 && s.dilation >= 1)) {
      throw new ModelError(
        `invalid layer geometry: kernel ${s.kernel}, stride ${s.stride}, dilation ${s.dilation}`,
      );
    }
    receptiveField += (s.kernel - 1) * s.dilation * stride;
    stride *= s.stride;
  }
  return { receptiveField, stride };
}

/** Output size of the chain for an input of `size` pixels (valid padding); 0 when too small. */
export function outputSize(steps: readonly SpatialStep[], size: number): number {
  let n = size;
  for (const s of steps) {
    const span = (s.kernel - 1) * s.dilation + 1;
    if (n < span) return 0;
    n = Math.floor((n - span) / s.stride) + 1;
  }
  return n;
}

/** Input size that yields exactly `outputs` values per axis. */
export function inputSizeFor(g: Geometry, outputs: number): number {
  return g.receptiveField + (outputs - 1) * g.stride;
}
