/** Beer–Lambert optical density: OD = −ln(I / I₀) per channel, from 8-bit pixels. */
import type { Vec3 } from './types.ts';

/** One lookup table per channel: OD of each 8-bit value against that channel's background. */
export function odTables(background: Vec3): [Float64Array, Float64Array, Float64Array] {
  return background.map((bg) =>
    Float64Array.from({ length: 256 }, (_, v) => Math.max(0, -Math.log(Math.max(v, 1) / bg))),
  ) as [Float64Array, Float64Array, Float64Array];
}

/** 8-bit value for an optical density under background `bg`. */
export function fromOd(od: number, bg: number): number {
  const v = bg * Math.exp(-od);
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/**
 * Tissue OD samples (n × 3, row-major) from RGB(A) pixels: pixels whose OD magnitude is below `minOd`
 * (glass, or too faint to tell stains apart; Macenko's β = 0.15) are dropped. Macenko drops a pixel below β
 * in any channel; the magnitude keeps eosin-only pixels, whose red OD is small, so eosin is seen pure. `keep(i)` selects pixels
 * (a tissue mask); `stride` subsamples.
 */
export function tissueOd(
  pixels: Uint8Array,
  channels: number,
  background: Vec3,
  o: { minOd?: number; keep?: (pixel: number) => boolean; maxSamples?: number } = {},
): Float64Array {
  const t = odTables(background);
  const minOd = o.minOd ?? 0.15;
  const n = pixels.length / channels;
  const stride = Math.max(1, Math.floor(n / (o.maxSamples ?? 200_000)));
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) {
    if (o.keep && !o.keep(i)) continue;
    const p = i * channels;
    const a = t[0][pixels[p]];
    const b = t[1][pixels[p + 1]];
    const c = t[2][pixels[p + 2]];
    if (a * a + b * b + c * c < minOd * minOd) continue;
    out.push(a, b, c);
  }
  return Float64Array.from(out);
}
