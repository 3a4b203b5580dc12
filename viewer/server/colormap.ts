/**
 * Viridis as a 256-entry lookup table: perceptually uniform and readable by colour-blind viewers.
 * Built by linear interpolation between matplotlib's viridis at 0, 1/8, ..., 1 (checked against
 * matplotlib 3.6: the anchors are exact; in between the error is a few levels of 255).
 */
const VIRIDIS_ANCHORS = [
  '#440154',
  '#472d7b',
  '#3b528b',
  '#2c728e',
  '#21918c',
  '#28ae80',
  '#5ec962',
  '#addc30',
  '#fde725',
];

function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** RGB triples, 256 × 3 bytes. */
export const VIRIDIS: Uint8Array = (() => {
  const anchors = VIRIDIS_ANCHORS.map(hexToRgb);
  const lut = new Uint8Array(256 * 3);
  const segments = anchors.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(anchors[k][c] * (1 - f) + anchors[k + 1][c] * f);
  }
  return lut;
})();

/** Colour of a value in [0, 1] (clamped). */
export function colourOf(value: number): [number, number, number] {
  const i = Math.max(0, Math.min(255, Math.round(value * 255)));
  return [VIRIDIS[i * 3], VIRIDIS[i * 3 + 1], VIRIDIS[i * 3 + 2]];
}

/** CSS gradient stops for the client legend. */
export const VIRIDIS_CSS_STOPS = VIRIDIS_ANCHORS;
