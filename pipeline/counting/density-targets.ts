/**
 * Density-map targets (Lempitsky & Zisserman 2010): a normalised Gaussian of width σ on each annotated dot,
 * so the map integrates to the number of dots. Each Gaussian is renormalised over the part inside the
 * image, so cells at the border still count as exactly one.
 */
export interface Dot {
  x: number;
  y: number;
}

export function densityMap(dots: readonly Dot[], width: number, height: number, sigma: number): Float32Array {
  const out = new Float32Array(width * height);
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  for (let i = -r; i <= r; i++) k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (const d of dots) {
    const cx = Math.round(d.x);
    const cy = Math.round(d.y);
    const x0 = Math.max(0, cx - r);
    const x1 = Math.min(width - 1, cx + r);
    const y0 = Math.max(0, cy - r);
    const y1 = Math.min(height - 1, cy + r);
    let sum = 0;
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) sum += k[y - cy + r] * k[x - cx + r];
    if (sum === 0) continue;
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) out[y * width + x] += (k[y - cy + r] * k[x - cx + r]) / sum;
  }
  return out;
}
