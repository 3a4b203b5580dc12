/**
 * The frame index of an instance in a file, once per instance: native pixel data, the Extended
 * Offset Table, the Basic Offset Table, or one scan of the fragment items when the tables are empty.
 * Also reads one frame by range (item headers stripped).
 */
import { SlideFormatError } from '../../../errors.ts';
import { getNumbers } from '../dataset.ts';
import type { WsiInstance } from '../instance.ts';
import type { PixelDataInfo } from '../parse.ts';
import { T } from '../tags.ts';
import { basicOffsetTableIndex } from './basic-offset-table.ts';
import { extendedOffsetTableIndex } from './extended-offset-table.ts';
import { opensCodestream, scanFragments } from './fragment-scan.ts';
import { nativeFrameIndex } from './native-frames.ts';
import { type ByteRange, type FrameIndex, itemLength } from './types.ts';

export type { FrameIndex } from './types.ts';

export async function buildFrameIndex(
  inst: WsiInstance,
  pixelData: PixelDataInfo | undefined,
  read: ByteRange,
  fileSize: number,
): Promise<FrameIndex> {
  const where = inst.where;
  if (!pixelData) throw new SlideFormatError(`${where}: no pixel data (truncated file?)`);
  const { valueOffset } = pixelData;
  if (inst.encoding === 'native') {
    if (pixelData.length === undefined)
      throw new SlideFormatError(`${where}: native pixel data of undefined length`);
    if (valueOffset + pixelData.length > fileSize) {
      throw new SlideFormatError(
        `${where}: file is truncated (pixel data runs to byte ${valueOffset + pixelData.length}, file has ${fileSize})`,
      );
    }
    const frameBytes = inst.tileWidth * inst.tileHeight * inst.samplesPerPixel;
    return nativeFrameIndex(valueOffset, pixelData.length, inst.frames, frameBytes, where);
  }
  if (pixelData.length !== undefined)
    throw new SlideFormatError(`${where}: compressed pixel data must be encapsulated`);
  if (valueOffset + 8 > fileSize)
    throw new SlideFormatError(`${where}: file is truncated (no pixel data items)`);
  const botHead = await read(valueOffset, 8);
  const botLength = itemLength(botHead, 0);
  if (botLength === undefined)
    throw new SlideFormatError(`${where}: encapsulated pixel data has no offset table item`);
  const firstFragment = valueOffset + 8 + botLength;
  let index: FrameIndex | undefined;
  const eot = getNumbers(inst.dataset, T.ExtendedOffsetTable);
  if (eot.length > 0) {
    index = extendedOffsetTableIndex(
      eot,
      getNumbers(inst.dataset, T.ExtendedOffsetTableLengths),
      firstFragment,
      inst.frames,
    );
  }
  if (!index && botLength > 0) {
    if (firstFragment > fileSize)
      throw new SlideFormatError(`${where}: file is truncated (in the offset table)`);
    index = basicOffsetTableIndex(await read(valueOffset + 8, botLength), firstFragment, inst.frames);
  }
  index ??= await scanFragments(read, firstFragment, fileSize, inst.frames, where);
  const lastStart = index.start[inst.frames - 1];
  const lastEnd = index.end[inst.frames - 1];
  if (lastStart + 8 > fileSize || lastEnd > fileSize) {
    throw new SlideFormatError(
      `${where}: file is truncated (frame ${inst.frames} starts at byte ${lastStart}, file has ${fileSize})`,
    );
  }
  return index;
}

/** Frame i's bytes (0-based): the item values concatenated (one view when it is one fragment). */
export async function readIndexedFrame(
  index: FrameIndex,
  i: number,
  read: ByteRange,
  where: string,
): Promise<Uint8Array> {
  const start = index.start[i];
  const end = index.end[i];
  if (!index.encapsulated) return read(start, end - start);
  if (Number.isNaN(end)) return readOpenEndedFrame(start, i, read, where);
  const buf = await read(start, end - start);
  const first = itemLength(buf, 0);
  if (first === undefined)
    throw new SlideFormatError(`${where}: frame ${i + 1} has no item header at byte ${start}`);
  if (8 + first >= buf.length) return buf.subarray(8, 8 + first);
  const parts: Uint8Array[] = [];
  let o = 0;
  while (o + 8 <= buf.length) {
    const len = itemLength(buf, o);
    if (len === undefined) break;
    parts.push(buf.subarray(o + 8, Math.min(buf.length, o + 8 + len)));
    o += 8 + len;
  }
  return Buffer.concat(parts);
}

/**
 * The last frame of a basic offset table: its fragments run to the sequence delimiter or to the next
 * fragment that opens a codestream, whichever comes first (read header by header).
 */
async function readOpenEndedFrame(
  start: number,
  i: number,
  read: ByteRange,
  where: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let o = start;
  for (;;) {
    let head: Uint8Array;
    try {
      head = (await read(o, 12)).slice();
    } catch (err) {
      if (parts.length > 0) break; // the file ends right after the last fragment
      throw err;
    }
    const len = itemLength(head, 0);
    if (len === undefined) {
      if (parts.length === 0)
        throw new SlideFormatError(`${where}: frame ${i + 1} has no item header at byte ${start}`);
      break;
    }
    if (parts.length > 0 && opensCodestream(head.subarray(8))) break;
    parts.push((await read(o + 8, len)).slice());
    o += 8 + len;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
