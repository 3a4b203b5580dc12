/** Scale bar, magnification and number formatting (pure functions, unit-tested in Node). */

/** The longest "nice" length (1, 2, 5 × 10^k µm) whose bar fits in maxPx screen pixels. */
export function niceScaleBar(
  umPerScreenPx: number,
  maxPx: number,
): { um: number; px: number; label: string } {
  const maxUm = umPerScreenPx * maxPx;
  const exp = Math.floor(Math.log10(maxUm));
  let um = 10 ** exp;
  for (const m of [5, 2, 1]) {
    if (m * 10 ** exp <= maxUm) {
      um = m * 10 ** exp;
      break;
    }
  }
  return { um, px: um / umPerScreenPx, label: formatMicrons(um) };
}

export function formatMicrons(um: number): string {
  if (um >= 1000) return `${+(um / 1000).toPrecision(3)} mm`;
  if (um < 1) return `${+um.toPrecision(2)} µm`;
  return `${+um.toPrecision(3)} µm`;
}

/**
 * Apparent objective magnification at a zoom (screen px per level-0 px): the scanner's objective
 * power when known, else the usual 10 µm / mpp convention (0.25 µm/px ≈ 40×).
 */
export function magnification(
  imageZoom: number,
  objectivePower: number | null,
  mpp: number | null,
): number | undefined {
  const base = objectivePower ?? (mpp ? 10 / mpp : undefined);
  return base === undefined ? undefined : base * imageZoom;
}

export function formatMagnification(m: number): string {
  return m >= 10 ? `${Math.round(m)}×` : `${+m.toFixed(m >= 1 ? 1 : 2)}×`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en');
}
