/** Sizes beyond which a header is treated as lying: checked before anything is allocated. */
import { AbsurdDimensionsError, SlideFormatError } from '../errors.ts';

/** Largest side of a level (the biggest real slides are ~250,000 px wide). */
const MAX_SIDE = 1_000_000;
/** Largest decoded tile or strip, in pixels (16,384²). */
export const MAX_BLOCK_PIXELS = 16_384 * 16_384;
/** Largest region one read may return, in pixels (3 bytes each). */
export const MAX_READ_PIXELS = 16_384 * 16_384;

export function checkImageSize(what: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new SlideFormatError(
      `${what} has invalid dimensions ${width}×${height} (corrupt or truncated file)`,
    );
  }
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw new AbsurdDimensionsError(
      `${what} claims ${width}×${height} px, beyond the ${MAX_SIDE.toLocaleString('en')} px limit per side`,
    );
  }
}

export function checkBlockSize(what: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new SlideFormatError(
      `${what} has invalid tile dimensions ${width}×${height} (corrupt or truncated file)`,
    );
  }
  if (width * height > MAX_BLOCK_PIXELS) {
    throw new AbsurdDimensionsError(
      `${what} has ${width}×${height} px tiles/strips, beyond the ${MAX_BLOCK_PIXELS.toLocaleString('en')} px limit`,
    );
  }
}
