/** Per-pixel saturation and Otsu's threshold: stained tissue is coloured, glass is grey-white. */

/** HSV saturation scaled to 0–255 ((max − min) / max); black pixels count as unsaturated. */
export function saturation(rgb: Uint8Array, channels: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, p = 0; i < pixels; i++, p += channels) {
    const r = rgb[p];
    const g = rgb[p + 1];
    const b = rgb[p + 2];
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    const min = r < g ? (r < b ? r : b) : g < b ? g : b;
    out[i] = max === 0 ? 0 : Math.round((255 * (max - min)) / max);
  }
  return out;
}

/** Otsu's threshold t: values > t are foreground. Maximises the between-class variance of the histogram. */
export function otsuThreshold(values: Uint8Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < values.length; i++) hist[values[i]]++;
  const total = values.length;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) sumAll += i * hist[i];
  let sumBelow = 0;
  let countBelow = 0;
  let best = -1;
  let threshold = 0;
  for (let t = 0; t < 255; t++) {
    countBelow += hist[t];
    sumBelow += t * hist[t];
    const countAbove = total - countBelow;
    if (countBelow === 0 || countAbove === 0) continue;
    const meanBelow = sumBelow / countBelow;
    const meanAbove = (sumAll - sumBelow) / countAbove;
    const between = countBelow * countAbove * (meanBelow - meanAbove) ** 2;
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}
