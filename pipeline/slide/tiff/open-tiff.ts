/** Opens a TIFF-family slide (Aperio SVS, OME-TIFF, generic tiled/stripped TIFF) from a file or URL. */
// Must run before geotiff loads (see the file).
import './worker-threads-shim.ts';
import {
  type BlockedSourceOptions,
  fromFile,
  fromUrl,
  type GeoTIFF,
  type ImageFileDirectory,
  type RemoteSourceOptions,
} from 'geotiff';
import { SlideFormatError, WsiError } from '../../errors.ts';
import { readWindow } from '../assemble.ts';
import type { CodecRegistry } from '../codec/registry.ts';
import { createDefaultCodecs, unsupportedCompression } from '../codec/registry.ts';
import { contentId, HEADER_BYTES } from '../hash.ts';
import type { LevelSource } from '../level.ts';
import { createTiledSlide } from '../tiled-slide.ts';
import type { Mpp, OpenOptions, RGBImage, Slide, SlideFormat } from '../types.ts';
import { isAperio, parseAperioDescription } from '../vendor/aperio.ts';
import { isOmeXml, parseOmeXml } from '../vendor/ome.ts';
import { mppFromResolution } from '../vendor/resolution.ts';
import { type ByteReader, fileReader, readBytes, sourceReader } from './byte-source.ts';
import { type IfdInfo, readIfd } from './ifd.ts';
import { classifyPages, type Layout, type Page } from './layout.ts';
import { createTiffLevel } from './tiff-level.ts';

const MAX_PAGES = 1000;

export interface TiffOpenInput {
  /** File path or http(s) URL. */
  location: string;
  isUrl: boolean;
  /** Total size in bytes, when known. */
  fileSize: number | undefined;
  options: OpenOptions;
}

/** Range requests in 64 KiB blocks (geotiff's BlockedSource coalesces and caches them); never the whole file. */
const REMOTE_OPTIONS: RemoteSourceOptions & BlockedSourceOptions = {
  allowFullFile: false,
  blockSize: 64 * 1024,
  cacheSize: 256,
};

async function parseTiff(input: TiffOpenInput): Promise<GeoTIFF> {
  try {
    return input.isUrl ? await fromUrl(input.location, REMOTE_OPTIONS) : await fromFile(input.location);
  } catch (err) {
    throw new SlideFormatError(`${input.location}: not a readable TIFF (${(err as Error).message})`, {
      cause: err,
    });
  }
}

async function readPages(tiff: GeoTIFF, where: string, fileSize: number | undefined): Promise<Page[]> {
  const pages: Page[] = [];
  let offset = tiff.firstIFDOffset;
  for (let i = 0; i < MAX_PAGES; i++) {
    // geotiff reads zeros past the end of a file: check that the directory lies inside it first.
    if (fileSize !== undefined && offset + 2 > fileSize) {
      throw new SlideFormatError(
        `${where}: file is truncated (TIFF directory ${i} is at byte ${offset}, the file has ${fileSize})`,
      );
    }
    let ifd: ImageFileDirectory;
    try {
      ifd = await tiff.requestIFD(i);
    } catch (err) {
      if (i > 0 && /no image at index/i.test((err as Error).message)) break;
      throw new SlideFormatError(
        `${where}: TIFF directory ${i} cannot be read (truncated or corrupt file: ${(err as Error).message})`,
        { cause: err },
      );
    }
    pages.push({ index: i, info: await readIfd(ifd, `${where} page ${i}`) });
    if (!ifd.nextIFDByteOffset) break;
    offset = ifd.nextIFDByteOffset;
  }
  return pages;
}

async function readSubIfds(tiff: GeoTIFF, base: IfdInfo, where: string): Promise<Page[]> {
  const out: Page[] = [];
  for (const [k, offset] of base.subIfdOffsets.entries()) {
    try {
      const ifd = await tiff.parser.parseFileDirectoryAt(offset);
      out.push({ index: -1, info: await readIfd(ifd, `${where} SubIFD ${k}`) });
    } catch (err) {
      if (err instanceof WsiError) throw err;
      throw new SlideFormatError(`${where}: SubIFD ${k} cannot be read (${(err as Error).message})`, {
        cause: err,
      });
    }
  }
  return out;
}

function checkDecodable(p: Page, codecs: CodecRegistry, where: string): void {
  const i = p.info;
  if (!codecs.has(i.compression)) throw unsupportedCompression(i.compression);
  if (i.bitsPerSample !== 8) {
    throw new SlideFormatError(`${where}: ${i.bitsPerSample}-bit samples are not supported (8-bit only)`);
  }
  if (i.samplesPerPixel < 1 || i.samplesPerPixel > 4) {
    throw new SlideFormatError(`${where}: ${i.samplesPerPixel} samples per pixel are not supported`);
  }
  if (i.predictor !== 1 && i.predictor !== 2) {
    throw new SlideFormatError(`${where}: TIFF predictor ${i.predictor} is not supported (1 or 2 only)`);
  }
  if (i.planar !== 1 && i.samplesPerPixel > 1) {
    throw new SlideFormatError(`${where}: planar (separate) sample layout is not supported`);
  }
  const jpegLike =
    i.compression === 7 || i.compression === 33003 || i.compression === 33005 || i.compression === 34712;
  if (i.photometric === 6 && !jpegLike) {
    throw new SlideFormatError(`${where}: YCbCr pixels without JPEG compression are not supported`);
  }
}

/** Every block must lie inside the file: a file cut short is refused at open, not at some later read. */
async function checkBlocksInFile(p: Page, fileSize: number | undefined, where: string): Promise<void> {
  const { offsets, counts } = await p.info.loadBlocks();
  const cols = Math.ceil(p.info.width / p.info.blockWidth);
  const rows = Math.ceil(p.info.height / p.info.blockHeight);
  if (offsets.length < cols * rows || counts.length < cols * rows) {
    throw new SlideFormatError(
      `${where}: ${offsets.length} block offsets for ${cols * rows} blocks (corrupt file)`,
    );
  }
  if (fileSize === undefined) return;
  let end = 0;
  for (let i = 0; i < offsets.length; i++) if (counts[i] > 0) end = Math.max(end, offsets[i] + counts[i]);
  if (end > fileSize) {
    throw new SlideFormatError(
      `${where}: file is truncated (tile data runs to byte ${end}, file has ${fileSize})`,
    );
  }
}

function normaliseMpp(m: OpenOptions['mpp']): Mpp | undefined {
  if (m === undefined) return undefined;
  const v = typeof m === 'number' ? { x: m, y: m } : m;
  if (!(v.x > 0) || !(v.y > 0)) throw new SlideFormatError(`invalid mpp override ${JSON.stringify(m)}`);
  return v;
}

export async function openTiffSlide(input: TiffOpenInput): Promise<Slide> {
  const where = input.location;
  const tiff = await parseTiff(input);
  let closeLocal = () => {};
  try {
    const knownSize = input.fileSize ?? tiff.source.fileSize ?? undefined;
    const pages = await readPages(tiff, where, knownSize);
    const first = pages[0].info;
    const layout: Layout = isAperio(first.description)
      ? 'aperio'
      : isOmeXml(first.description)
        ? 'ome'
        : 'generic';
    const subIfds = layout === 'aperio' ? [] : await readSubIfds(tiff, first, where);
    const { levels: levelPages, associated } = classifyPages(layout, pages, subIfds);
    const codecs = createDefaultCodecs();
    const fileSize = knownSize;
    for (const p of levelPages) {
      checkDecodable(p, codecs, where);
      await checkBlocksInFile(p, fileSize, where);
    }
    const local = input.isUrl ? undefined : fileReader(input.location);
    const read: ByteReader = local ? local.read : sourceReader(tiff.source);
    closeLocal = () => local?.close();
    const levels: LevelSource[] = levelPages.map((p) => createTiffLevel(p.info, read, codecs));

    let mpp: Mpp | undefined;
    let objectivePower: number | undefined;
    let vendor = 'generic';
    let format: SlideFormat;
    const properties: Record<string, string> = {};
    if (layout === 'aperio') {
      const meta = parseAperioDescription(first.description);
      Object.assign(properties, meta.properties);
      mpp = meta.mpp !== undefined ? { x: meta.mpp, y: meta.mpp } : undefined;
      objectivePower = meta.objectivePower;
      vendor = 'aperio';
      format = 'aperio-svs';
    } else if (layout === 'ome') {
      const meta = await parseOmeXml(first.description);
      Object.assign(properties, meta.properties);
      mpp = meta.mpp;
      vendor = 'ome';
      format = 'ome-tiff';
    } else {
      mpp = mppFromResolution(first.xResolution, first.yResolution, first.resolutionUnit);
      format = levels.length > 1 || first.tiled ? 'generic-tiff' : 'tiff';
      if (first.description) properties['tiff.ImageDescription'] = first.description;
    }
    if (first.software) properties['tiff.Software'] = first.software;
    mpp = normaliseMpp(input.options.mpp) ?? mpp ?? normaliseMpp(input.options.fallbackMpp);

    const assoc = new Map<string, () => Promise<RGBImage>>();
    for (const a of associated) {
      assoc.set(a.name, async () => {
        checkDecodable(a.page, codecs, `${where} ${a.name} image`);
        const lvl = createTiffLevel(a.page.info, read, codecs);
        const data = await readWindow(lvl, 0, 0, lvl.width, lvl.height, (c, r) => lvl.readTile(c, r));
        return { data, width: lvl.width, height: lvl.height, channels: 3 };
      });
    }

    const size = fileSize ?? 0;
    const header = await readBytes(tiff.source, 0, Math.min(HEADER_BYTES, size || HEADER_BYTES));
    const counts = await Promise.all(levelPages.map(async (p) => (await p.info.loadBlocks()).counts));
    const id = await contentId(size, header, levels, counts);
    return createTiledSlide({
      id,
      source: input.location,
      format,
      vendor,
      levels,
      mpp,
      objectivePower,
      properties,
      associated: assoc,
      cacheBytes: input.options.cacheBytes,
      close: async () => {
        closeLocal();
        await tiff.close();
      },
    });
  } catch (err) {
    closeLocal();
    await tiff.close();
    throw err;
  }
}
