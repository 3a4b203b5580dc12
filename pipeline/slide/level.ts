/**
 * A pyramid level as the slide sees it: a tile grid whose tiles decode to RGB. Formats implement this;
 * everything above (regions, caching, resizing) is shared.
 */
import type { RawTile } from './types.ts';

export interface TileGrid {
  readonly width: number;
  readonly height: number;
  readonly tileWidth: number;
  readonly tileHeight: number;
}

export interface LevelSource extends TileGrid {
  /** The whole block, tileWidth × tileHeight × 3 bytes, RGB; pixels past the image edge are unspecified. */
  readTile(col: number, row: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** The tile's compressed bytes as stored (for content hashing); empty for empty tiles. */
  readRawTile(col: number, row: number): Promise<Uint8Array>;
  /**
   * The block as a standalone image file decoding to readTile's pixels, or undefined when its stored
   * bytes cannot stand alone (see Slide.readRawTile). Formats without passthrough leave it out.
   */
  readStandaloneTile?(col: number, row: number): Promise<RawTile | undefined>;
}

export function tileColumns(g: TileGrid): number {
  return Math.ceil(g.width / g.tileWidth);
}

export function tileRows(g: TileGrid): number {
  return Math.ceil(g.height / g.tileHeight);
}
