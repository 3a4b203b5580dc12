/**
 * Viridis: perceptually uniform and readable by colour-blind viewers. Linear interpolation between
 * matplotlib's viridis at 0, 1/8, ..., 1 (checked against matplotlib 3.6: the anchors are exact; in between
 * the error is a few levels of 255). One map for every picture we draw: viewer heatmaps, plate heatmaps.
 */
export const VIRIDIS_ANCHORS = [
  '#440154',
  '#472d7b',
  '#3b528b',
  '#2c728e',
  '#21918c',
  '#28ae80',
  '#5ec962',
  '#addc30',
  '#fde725',
] as const;

const ANCHOR_RGB = VIRIDIS_ANCHORS.map((hex) => {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255] as const;
});

/** Colour of t in [0, 1] (clamped; NaN is 0), interpolated between the anchors. */
export function viridis(t: number): [number, number, number] {
  const segments = ANCHOR_RGB.length - 1;
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * segments;
  const k = Math.min(segments - 1, Math.floor(u));
  const f = u - k;
  const [a, b] = [ANCHOR_RGB[k], ANCHOR_RGB[k + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] * (1 - f) + b[c] * f)) as [number, number, number];
}

/** The same as a CSS colour, `rgb(r,g,b)`. */
export function viridisCss(t: number): string {
  const [r, g, b] = viridis(t);
  return `rgb(${r},${g},${b})`;
}

/** 256-entry lookup table, RGB triples (256 × 3 bytes), for colouring many pixels. */
export const VIRIDIS: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(viridis(i / 255), i * 3);
  return lut;
})();

/** Colour of a value in [0, 1] (clamped) from the lookup table. */
export function colourOf(value: number): [number, number, number] {
  const i = Math.max(0, Math.min(255, Math.round(value * 255)));
  return [VIRIDIS[i * 3], VIRIDIS[i * 3 + 1], VIRIDIS[i * 3 + 2]];
}
