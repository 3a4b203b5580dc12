/**
 * TIFF XResolution/YResolution/ResolutionUnit → µm per pixel. Resolutions coarser than 100 µm/px are
 * screen defaults written by image tools (72 or 96 dpi, libvips' 1 px/mm), not a microscope's
 * calibration, so they count as unknown.
 */
const MAX_PLAUSIBLE_MPP = 100;

export function mppFromResolution(
  xRes: number | undefined,
  yRes: number | undefined,
  unit: number,
): { x: number; y: number } | undefined {
  const umPerUnit = unit === 2 ? 25_400 : unit === 3 ? 10_000 : undefined;
  if (umPerUnit === undefined || !xRes || !(xRes > 0)) return undefined;
  const x = umPerUnit / xRes;
  const y = yRes && yRes > 0 ? umPerUnit / yRes : x;
  if (!(x <= MAX_PLAUSIBLE_MPP) || !(y <= MAX_PLAUSIBLE_MPP)) return undefined;
  return { x, y };
}
