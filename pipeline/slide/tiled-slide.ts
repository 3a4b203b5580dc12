/**
 * The one Slide implementation: any format that can present its levels as LevelSources gets region
 * reads, µm/px reads, tiles, thumbnails and the decoded-tile cache from here.
 */
import { MissingResolutionError, ReadRangeError } from '../errors.ts';
import { readWindow, type TileFetcher, type TileRelease } from './assemble.ts';
import { createByteLru } from './cache.ts';
import type { LevelSource } from './level.ts';
import { tileColumns, tileRows } from './level.ts';
import { MAX_READ_PIXELS } from './limits.ts';
import { chooseLevel, planRead } from './plan.ts';
import { resizeRgb, shrinkLevelStreaming } from './resample.ts';
import { recycleTileBuffer } from './tile-buffers.ts';
import type {
  LevelInfo,
  LevelRegion,
  Mpp,
  MppRegion,
  ReadOptions,
  RGBImage,
  Slide,
  SlideFormat,
} from './types.ts';

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
/** Levels up to this many pixels are resized in one go by sharp; bigger ones are shrunk band by band. */
const WHOLE_LEVEL_PIXELS = 64 * 1024 * 1024;

export interface TiledSlideParts {
  id: string;
  source: string;
  format: SlideFormat;
  vendor: string;
  levels: readonly LevelSource[];
  mpp: Mpp | undefined;
  objectivePower: number | undefined;
  properties: Record<string, string>;
  associated: ReadonlyMap<string, () => Promise<RGBImage>>;
  cacheBytes?: number;
  close(): Promise<void>;
}

/** OpenSlide's convention: the mean of the width and height ratios. */
function measuredDownsample(l0: LevelSource, l: LevelSource): number {
  return (l0.width / l.width + l0.height / l.height) / 2;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    throw new ReadRangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
}

function checkedInto(into: Uint8Array | undefined, width: number, height: number): Uint8Array | undefined {
  if (into && into.length !== width * height * 3) {
    throw new ReadRangeError(
      `'into' holds ${into.length} bytes; a ${width}×${height} RGB read needs ${width * height * 3}`,
    );
  }
  return into;
}

function checkReadSize(width: number, height: number): void {
  checkInt('width', width, 1);
  checkInt('height', height, 1);
  if (width * height > MAX_READ_PIXELS) {
    throw new ReadRangeError(
      `a ${width}×${height} read is larger than the ${MAX_READ_PIXELS} px limit; read it in pieces`,
    );
  }
}

export function createTiledSlide(parts: TiledSlideParts): Slide {
  const { levels } = parts;
  const l0 = levels[0];
  const levelInfo: LevelInfo[] = levels.map((l) => ({
    width: l.width,
    height: l.height,
    downsample: measuredDownsample(l0, l),
    tileWidth: l.tileWidth,
    tileHeight: l.tileHeight,
  }));
  // Tiles some read is still going to copy, by key (count of waiting reads). An evicted tile that
  // nobody waits on gives its memory back for the next decode (tile-buffers.ts).
  const pinned = new Map<string, number>();
  const cache = createByteLru<Uint8Array>(parts.cacheBytes ?? DEFAULT_CACHE_BYTES, (key, tile) => {
    if (!pinned.has(key)) recycleTileBuffer(tile);
  });
  const inFlight = new Map<string, Promise<Uint8Array>>();
  let closed = false;

  function tileAccess(level: number, signal?: AbortSignal): { get: TileFetcher; release: TileRelease } {
    const src = levels[level];
    const get = (col: number, row: number): Promise<Uint8Array> => {
      const key = `${level}/${col}/${row}`;
      pinned.set(key, (pinned.get(key) ?? 0) + 1);
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      let p = inFlight.get(key);
      if (!p) {
        p = src.readTile(col, row, signal).then(
          (t) => {
            inFlight.delete(key);
            cache.set(key, t);
            return t;
          },
          (err: unknown) => {
            inFlight.delete(key);
            throw err;
          },
        );
        inFlight.set(key, p);
      }
      return p;
    };
    const release = (col: number, row: number): void => {
      const key = `${level}/${col}/${row}`;
      const n = (pinned.get(key) ?? 1) - 1;
      if (n <= 0) pinned.delete(key);
      else pinned.set(key, n);
    };
    return { get, release };
  }

  function checkLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level >= levels.length) {
      throw new ReadRangeError(
        `level ${level} does not exist (this slide has levels 0–${levels.length - 1})`,
      );
    }
  }

  function checkOpen(): void {
    if (closed) throw new ReadRangeError('the slide is closed');
  }

  async function readLevelWindow(
    level: number,
    x: number,
    y: number,
    width: number,
    height: number,
    signal?: AbortSignal,
    into?: Uint8Array,
  ): Promise<RGBImage> {
    const tiles = tileAccess(level, signal);
    const data = await readWindow(levels[level], x, y, width, height, tiles.get, tiles.release, into);
    return { data, width, height, channels: 3 };
  }

  /** The level's source, after checking that the slide is open and the tile exists. */
  function checkTile(level: number, col: number, row: number): LevelSource {
    checkOpen();
    checkLevel(level);
    const src = levels[level];
    if (
      !Number.isInteger(col) ||
      !Number.isInteger(row) ||
      col < 0 ||
      row < 0 ||
      col >= tileColumns(src) ||
      row >= tileRows(src)
    ) {
      throw new ReadRangeError(
        `tile ${col},${row} is outside level ${level}'s ${tileColumns(src)}×${tileRows(src)} tile grid`,
      );
    }
    return src;
  }

  const slide: Slide = {
    id: parts.id,
    source: parts.source,
    format: parts.format,
    vendor: parts.vendor,
    levels: levelInfo,
    mpp: parts.mpp,
    objectivePower: parts.objectivePower,
    properties: parts.properties,
    associatedImages: [...parts.associated.keys()],
    width: l0.width,
    height: l0.height,

    async readRegion(r: LevelRegion, o?: ReadOptions) {
      checkOpen();
      checkLevel(r.level);
      checkReadSize(r.width, r.height);
      if (!Number.isFinite(r.x) || !Number.isFinite(r.y))
        throw new ReadRangeError('x and y must be finite numbers');
      const ds = levelInfo[r.level].downsample;
      // Nearest level pixel: OpenSlide paints at the fractional position x / downsample; rounding matches it best.
      return readLevelWindow(
        r.level,
        Math.round(r.x / ds),
        Math.round(r.y / ds),
        r.width,
        r.height,
        o?.signal,
        checkedInto(o?.into, r.width, r.height),
      );
    },

    async readAt(r: MppRegion, o?: ReadOptions) {
      checkOpen();
      if (!parts.mpp) {
        throw new MissingResolutionError(
          `${parts.source} does not record its microns per pixel; give one explicitly (CLI: --assume-mpp)`,
        );
      }
      if (!(r.mpp > 0) || !Number.isFinite(r.mpp))
        throw new ReadRangeError(`mpp must be a positive number, got ${r.mpp}`);
      checkReadSize(r.width, r.height);
      const plan = planRead(levelInfo, parts.mpp, r);
      checkReadSize(plan.window.width, plan.window.height);
      const w = plan.window;
      const img = await readLevelWindow(plan.level, w.x, w.y, w.width, w.height, o?.signal);
      return resizeRgb(img, plan.width, plan.height);
    },

    async readTile(level: number, col: number, row: number, o?: ReadOptions) {
      const src = checkTile(level, col, row);
      const x = col * src.tileWidth;
      const y = row * src.tileHeight;
      const width = Math.min(src.tileWidth, src.width - x);
      const height = Math.min(src.tileHeight, src.height - y);
      return readLevelWindow(level, x, y, width, height, o?.signal);
    },

    async readRawTile(level: number, col: number, row: number) {
      const src = checkTile(level, col, row);
      // Edge tiles hold padding past the image that readTile crops away: no passthrough for them.
      if ((col + 1) * src.tileWidth > src.width || (row + 1) * src.tileHeight > src.height) return undefined;
      return src.readStandaloneTile?.(col, row);
    },

    async thumbnail(maxSize: number) {
      checkOpen();
      checkInt('maxSize', maxSize, 1);
      const scale = Math.max(1, Math.max(l0.width, l0.height) / maxSize);
      const width = Math.max(1, Math.round(l0.width / scale));
      const height = Math.max(1, Math.round(l0.height / scale));
      const level = chooseLevel(levelInfo, scale);
      const src = levels[level];
      if (src.width * src.height <= WHOLE_LEVEL_PIXELS) {
        const img = await readLevelWindow(level, 0, 0, src.width, src.height);
        return resizeRgb(img, width, height);
      }
      const tiles = tileAccess(level);
      return shrinkLevelStreaming(src, tiles.get, width, height, tiles.release);
    },

    async readAssociatedImage(name: string) {
      checkOpen();
      const read = parts.associated.get(name);
      if (!read) {
        const have = [...parts.associated.keys()];
        throw new ReadRangeError(
          `no associated image '${name}' (this slide has ${have.length ? have.join(', ') : 'none'})`,
        );
      }
      return read();
    },

    async close() {
      if (closed) return;
      closed = true;
      cache.clear();
      await parts.close();
    },
  };
  return slide;
}
