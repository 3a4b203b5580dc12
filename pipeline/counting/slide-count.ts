/** Regions and tiles of slide counting (pure); the stage itself is pipeline/stages/count-slide.ts. */
import { ConfigError } from '../errors.ts';
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function parseRegion(s: string, width: number, height: number): Rect {
  const parts = s.split(',').map((v) => Number(v.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v))) {
    throw new ConfigError(`--region must be x,y,w,h in level-0 pixels (integers), got '${s}'`);
  }
  const [x, y, w, h] = parts;
  if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > width || y + h > height) {
    throw new ConfigError(`--region ${s} is not inside the slide (${width}×${height})`);
  }
  return { x, y, width: w, height: h };
}

/** Tiles of `tile`² covering a rectangle (edge tiles cropped). */
export function tileGrid(r: Rect, tile: number): Rect[] {
  const out: Rect[] = [];
  for (let y = r.y; y < r.y + r.height; y += tile) {
    for (let x = r.x; x < r.x + r.width; x += tile) {
      out.push({
        x,
        y,
        width: Math.min(tile, r.x + r.width - x),
        height: Math.min(tile, r.y + r.height - y),
      });
    }
  }
  return out;
}
