/**
 * Deep Zoom tile rendering: plan → readRegion → resize → encode, behind a render semaphore,
 * with an LRU of encoded tiles (bounded by bytes) and coalescing of identical in-flight renders.
 * A JPEG tile that is exactly one stored JPEG tile skips all that: its stored bytes are sent as they
 * are (Slide.readRawTile), with no decode, resize or encode.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { createByteLru } from '../../pipeline/slide/cache.ts';
import type { Slide } from '../../pipeline/slide/types.ts';
import { type DzGeometry, dzLevel, planTile, storedTileFor, tileSpan } from './deepzoom.ts';
import { createSemaphore, type Semaphore } from './semaphore.ts';

export type TileFormat = 'jpeg' | 'png';

/** An encoded tile and how it was made: 'raw' = the slide's stored bytes, 'rendered' = decoded and encoded here. */
export interface EncodedTile {
  body: Buffer;
  source: 'raw' | 'rendered';
  readonly byteLength: number;
}

function encoded(body: Buffer, source: EncodedTile['source']): EncodedTile {
  return { body, source, byteLength: body.byteLength };
}

export interface TileRendererOptions {
  /** JPEG quality 1..100. */
  quality: number;
  /** Encoded-tile cache size in bytes. */
  cacheBytes: number;
  /** Concurrent renders. */
  concurrency: number;
  /** Renders allowed to wait; more get QueueFullError (HTTP 503). */
  maxQueue: number;
  geometry: DzGeometry;
}

export interface TileRenderer {
  /** Encoded tile, or undefined when the tile lies outside the pyramid. `client` keys render fairness. */
  render(
    slide: Slide,
    level: number,
    col: number,
    row: number,
    format: TileFormat,
    client?: string,
  ): Promise<EncodedTile | undefined>;
  etag(slideId: string, level: number, col: number, row: number, format: TileFormat): string;
  readonly semaphore: Semaphore;
  readonly cachedBytes: number;
  /** Tiles sent as stored bytes (fast path) and tiles rendered, since start (cache hits not counted). */
  readonly counts: { readonly raw: number; readonly rendered: number };
}

export async function encodeRgb(
  data: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4,
  out: { width: number; height: number; format: TileFormat; quality: number },
): Promise<Buffer> {
  let img = sharp(data, { raw: { width, height, channels } });
  if (out.width !== width || out.height !== height) {
    img = img.resize(out.width, out.height, { fit: 'fill', kernel: 'lanczos3' });
  }
  // No Huffman optimisation: ~20% faster encodes for ~5% larger tiles (PIL's default, as OpenSlide's server).
  return out.format === 'jpeg'
    ? img.jpeg({ quality: out.quality, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer()
    : img.png({ compressionLevel: 3 }).toBuffer();
}

/**
 * Largest region a tile reads directly. Beyond it (low DZ levels of a slide without a deep enough
 * pyramid) the tile is composed from its 2×2 children at the next finer DZ level instead, so no
 * request ever reads a whole level-0 image into memory.
 */
const DIRECT_READ_PIXELS = 2048 * 2048;

export function createTileRenderer(options: TileRendererOptions): TileRenderer {
  const cache = createByteLru<EncodedTile>(options.cacheBytes);
  const inFlight = new Map<string, Promise<EncodedTile | undefined>>();
  const counts = { raw: 0, rendered: 0 };
  const semaphore = createSemaphore(options.concurrency, options.maxQueue);
  const geometry = options.geometry;
  const etag = (slideId: string, level: number, col: number, row: number, format: TileFormat) =>
    `"${slideId}-${geometry.tileSize}+${geometry.overlap}-${level}-${col}-${row}-${format === 'jpeg' ? `q${options.quality}` : 'png'}"`;

  async function renderUncached(
    slide: Slide,
    level: number,
    col: number,
    row: number,
    format: TileFormat,
    client = '',
  ): Promise<EncodedTile | undefined> {
    const plan = planTile(slide.width, slide.height, slide.levels, level, col, row, geometry);
    if (!plan) return undefined;
    if (format === 'jpeg') {
      const raw = await readStoredJpeg(slide, level, col, row);
      if (raw) {
        counts.raw++;
        return encoded(raw, 'raw');
      }
    }
    counts.rendered++;
    if (plan.readWidth * plan.readHeight > DIRECT_READ_PIXELS)
      return encoded(await composeFromChildren(slide, level, col, row, format, client), 'rendered');
    const body = await semaphore.run(async () => {
      const img = await slide.readRegion({
        x: plan.x,
        y: plan.y,
        width: plan.readWidth,
        height: plan.readHeight,
        level: plan.level,
      });
      return encodeRgb(img.data, img.width, img.height, img.channels, {
        width: plan.width,
        height: plan.height,
        format,
        quality: options.quality,
      });
    }, client);
    return encoded(body, 'rendered');
  }

  /**
   * The stored JPEG bytes when the DZ tile is exactly one stored tile, else undefined (also for empty
   * or non-JPEG stored tiles). Only I/O, so it does not take a render slot.
   */
  async function readStoredJpeg(
    slide: Slide,
    level: number,
    col: number,
    row: number,
  ): Promise<Buffer | undefined> {
    if (!slide.readRawTile) return undefined;
    const ref = storedTileFor(slide.width, slide.height, slide.levels, level, col, row, geometry);
    if (!ref) return undefined;
    const raw = await slide.readRawTile(ref.level, ref.col, ref.row);
    if (!raw || raw.mime !== 'image/jpeg') return undefined;
    return Buffer.from(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
  }

  /** A tile made by halving the (up to 2×2) finer tiles that cover it; children are rendered losslessly. */
  async function composeFromChildren(
    slide: Slide,
    level: number,
    col: number,
    row: number,
    format: TileFormat,
    client = '',
  ): Promise<Buffer> {
    const parent = dzLevel(slide.width, slide.height, level, geometry);
    const child = dzLevel(slide.width, slide.height, level + 1, geometry);
    const [px0, px1] = tileSpan(col, parent.width, geometry);
    const [py0, py1] = tileSpan(row, parent.height, geometry);
    const size = geometry.tileSize;
    // The parent's extent in child-level pixels, and the child tiles covering it.
    const cx0 = 2 * px0;
    const cy0 = 2 * py0;
    const cx1 = Math.min(child.width, 2 * px1);
    const cy1 = Math.min(child.height, 2 * py1);
    const cols = [Math.floor(cx0 / size), Math.min(child.cols - 1, Math.floor((cx1 - 1) / size))];
    const rows = [Math.floor(cy0 / size), Math.min(child.rows - 1, Math.floor((cy1 - 1) / size))];
    const ux0 = tileSpan(cols[0], child.width, geometry)[0];
    const uy0 = tileSpan(rows[0], child.height, geometry)[0];
    const ux1 = tileSpan(cols[1], child.width, geometry)[1];
    const uy1 = tileSpan(rows[1], child.height, geometry)[1];
    // Children are awaited outside the semaphore: holding a slot while waiting for them could deadlock.
    const parts: OverlayOptions[] = [];
    for (let r = rows[0]; r <= rows[1]; r++) {
      for (let c = cols[0]; c <= cols[1]; c++) {
        const input = await render(slide, level + 1, c, r, 'png', client);
        if (input)
          parts.push({
            input: input.body,
            left: tileSpan(c, child.width, geometry)[0] - ux0,
            top: tileSpan(r, child.height, geometry)[0] - uy0,
          });
      }
    }
    return semaphore.run(async () => {
      const canvas = await sharp({
        create: { width: ux1 - ux0, height: uy1 - uy0, channels: 3, background: { r: 255, g: 255, b: 255 } },
      })
        .composite(parts)
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const region = await sharp(canvas.data, {
        raw: { width: canvas.info.width, height: canvas.info.height, channels: canvas.info.channels as 3 },
      })
        .extract({ left: cx0 - ux0, top: cy0 - uy0, width: cx1 - cx0, height: cy1 - cy0 })
        .raw()
        .toBuffer();
      return encodeRgb(
        new Uint8Array(region.buffer, region.byteOffset, region.byteLength),
        cx1 - cx0,
        cy1 - cy0,
        3,
        {
          width: px1 - px0,
          height: py1 - py0,
          format,
          quality: options.quality,
        },
      );
    }, client);
  }

  async function render(
    slide: Slide,
    level: number,
    col: number,
    row: number,
    format: TileFormat,
    client = '',
  ): Promise<EncodedTile | undefined> {
    const key = etag(slide.id, level, col, row, format);
    const hit = cache.get(key);
    if (hit) return hit;
    const pending = inFlight.get(key);
    if (pending) return pending;
    const p = renderUncached(slide, level, col, row, format, client).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    const tile = await p;
    if (tile) cache.set(key, tile);
    return tile;
  }

  return {
    render,
    etag,
    semaphore,
    get cachedBytes() {
      return cache.bytes;
    },
    counts,
  };
}
