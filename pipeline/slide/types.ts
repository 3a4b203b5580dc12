/**
 * The slide interface every format implements (see ARCHITECTURE.md). Coordinates are level-0 pixels
 * unless a name says otherwise; output sizes (`width`, `height` of a read) are output pixels.
 */

export interface LevelInfo {
  readonly width: number;
  readonly height: number;
  /** Measured level-0 width / this level's width (not assumed to be a power of 2). */
  readonly downsample: number;
  readonly tileWidth: number;
  readonly tileHeight: number;
}

/** Interleaved 8-bit pixels, row-major. */
export interface RGBImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Level-0 µm per pixel. */
export interface Mpp {
  readonly x: number;
  readonly y: number;
}

export type SlideFormat = 'aperio-svs' | 'generic-tiff' | 'ome-tiff' | 'png' | 'jpeg' | 'tiff' | 'dicom';

/** A read at a pyramid level: x, y in level-0 pixels; width, height in that level's pixels (as OpenSlide's read_region). */
export interface LevelRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  level: number;
}

/** A read at a physical resolution: x, y in level-0 pixels; width, height in output pixels at `mpp` µm/px. */
export interface MppRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  mpp: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /**
   * readRegion only: write the pixels here (exactly width × height × 3 bytes) instead of a new
   * buffer; the result's `data` is this array. For batching many regions into one transferable buffer.
   */
  into?: Uint8Array;
}

/** A stored tile as a complete image file that any browser decodes to the same pixels as readTile. */
export interface RawTile {
  bytes: Uint8Array;
  mime: 'image/jpeg';
}

export interface Slide {
  /** Stable content hash (hex): survives a file move or rename. */
  readonly id: string;
  /** The path or URL it was opened from. */
  readonly source: string;
  readonly format: SlideFormat;
  /** 'aperio', 'generic', 'ome', ... */
  readonly vendor: string;
  readonly levels: readonly LevelInfo[];
  /** Level-0 µm per pixel; undefined when the file does not say (and no override was given). */
  readonly mpp: Mpp | undefined;
  readonly objectivePower: number | undefined;
  readonly properties: Readonly<Record<string, string>>;
  /** 'thumbnail' | 'label' | 'macro': listed, never served or exported unless asked for by name. */
  readonly associatedImages: readonly string[];
  /** Level-0 size. */
  readonly width: number;
  readonly height: number;

  /** Pixels of a region at a level; areas outside the image are white. Always 3 channels. */
  readRegion(r: LevelRegion, o?: ReadOptions): Promise<RGBImage>;
  /** Pixels at a requested µm/px: reads the coarsest level at least as fine as asked, resizes. Throws MissingResolutionError without MPP. */
  readAt(r: MppRegion, o?: ReadOptions): Promise<RGBImage>;
  /** One decoded tile of a level (edge tiles are cropped to the image). */
  readTile(level: number, col: number, row: number, o?: ReadOptions): Promise<RGBImage>;
  /**
   * The stored tile's bytes, unchanged but for header splicing, when they stand alone as an image with
   * exactly readTile's pixels: interior JPEG tiles (compression 7). Undefined for edge tiles (they
   * need cropping), empty tiles and other compressions. Every slide openSlide returns has it; it is
   * optional only so that stand-in slides need not implement it.
   */
  readRawTile?(level: number, col: number, row: number): Promise<RawTile | undefined>;
  /** The whole slide fitted into maxSize × maxSize, from the best level. */
  thumbnail(maxSize: number): Promise<RGBImage>;
  /** An associated image by name; only for callers that explicitly ask (privacy: labels carry identifiers). */
  readAssociatedImage(name: string): Promise<RGBImage>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Override (or supply) the level-0 µm/px, as TIAToolbox's WSIReader.open(mpp=...). */
  mpp?: number | Mpp;
  /** Level-0 µm/px to use only when the file does not record one (the CLI's --assume-mpp). */
  fallbackMpp?: number;
  /** Decoded-tile cache size in bytes (default 256 MiB). */
  cacheBytes?: number;
}
