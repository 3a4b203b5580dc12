/**
 * sharp configured once for the reader, imported on first use: loading it costs more than the rest of
 * `wsi info`, which never decodes a pixel. Its libvips thread pool defaults to 1 thread on this glibc
 * build, so we set it explicitly: tile decodes get their parallelism from several tiles in flight on
 * libuv's pool; whole-image resizes (thumbnails, readAt) use the cores.
 */
import type Sharp from 'sharp';

let loading: Promise<typeof Sharp> | undefined;

export function loadSharp(): Promise<typeof Sharp> {
  loading ??= Promise.all([import('sharp'), import('node:os')]).then(([{ default: sharp }, os]) => {
    sharp.concurrency(Math.max(1, Math.min(4, os.availableParallelism())));
    // Tiles are decoded once and kept in our own byte-bounded cache; libvips' operation cache would only duplicate them.
    sharp.cache(false);
    return sharp;
  });
  return loading;
}
