/**
 * DICOM from local files: one instance file (its series' other instances in the same folder join
 * it), a folder, or a list of files. Headers are read by ranges, frames are indexed once per
 * instance and read by range on demand.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DicomNotSlideError, SlideFormatError, SlideNotFoundError, WsiError } from '../../errors.ts';
import { fileReader } from '../tiff/byte-source.ts';
import type { OpenOptions, Slide } from '../types.ts';
import { buildDicomSlide } from './build-slide.ts';
import { getString } from './dataset.ts';
import { buildFrameIndex, type FrameIndex, readIndexedFrame } from './frames/index.ts';
import type { ImageData } from './image-data.ts';
import { checkWsiSopClass, describeInstance, type WsiInstance } from './instance.ts';
import { hasPreamble } from './preamble.ts';
import { readDicomHeader } from './read-header.ts';
import { chooseSeries, layoutSeries } from './series.ts';
import { T, WSI_SOP_CLASS } from './tags.ts';

interface FileInstance {
  inst: WsiInstance;
  index: FrameIndex;
  reader: ReturnType<typeof fileReader>;
}

/** Reads one file's header and frame index; closes the file on failure. */
async function openInstance(file: string): Promise<FileInstance> {
  const size = (await stat(file)).size;
  const reader = fileReader(file);
  try {
    // Header reads copy out: fileReader's buffers are recycled for tile reads.
    const read = async (o: number, n: number) => (await reader.read(o, Math.min(n, size - o))).slice();
    const header = await readDicomHeader(read, size, file);
    checkWsiSopClass(getString(header.dataset, T.SOPClassUID) ?? getString(header.meta, 0x00020002), file);
    const inst = describeInstance(header.dataset, header.transferSyntax, file);
    const index = await buildFrameIndex(inst, header.pixelData, read, size);
    return { inst, index, reader };
  } catch (err) {
    reader.close();
    throw err;
  }
}

async function hasDicomPreamble(file: string): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile() || st.size < 132) return false;
  const r = fileReader(file);
  try {
    return hasPreamble(await r.read(0, 132));
  } finally {
    r.close();
  }
}

/** The DICOM files of a folder (by preamble, not by name), sorted. */
export async function dicomFilesIn(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  const out: string[] = [];
  for (const n of names) {
    const f = path.join(dir, n);
    if (await hasDicomPreamble(f)) out.push(f);
  }
  return out;
}

function fileImageData(files: readonly FileInstance[]): ImageData {
  const byInstance = new Map(files.map((f) => [f.inst, f]));
  return {
    async readFrame(inst, frame) {
      const f = byInstance.get(inst);
      if (!f) throw new SlideFormatError(`${inst.where}: not an open instance`);
      // A view of a recyclable read buffer (tile-buffers.ts): the level copies what it hands out.
      return readIndexedFrame(f.index, frame, f.reader.read, inst.where);
    },
    async close() {
      for (const f of files) f.reader.close();
    },
  };
}

/**
 * Opens the series in `files`. `where` names the input in messages. With `anchor`, the series of
 * that file is chosen and files of other series or non-slide objects are skipped.
 */
export async function openDicomFiles(
  files: readonly string[],
  where: string,
  options: OpenOptions,
  anchor?: string,
): Promise<Slide> {
  const opened: FileInstance[] = [];
  let firstNotSlide: unknown;
  try {
    for (const f of files) {
      try {
        opened.push(await openInstance(f));
      } catch (err) {
        // In a folder, other DICOM objects (annotations, a CT) are not part of the slide: skip them.
        if (err instanceof DicomNotSlideError && files.length > 1 && f !== anchor) {
          firstNotSlide ??= err;
          continue;
        }
        throw err;
      }
    }
    if (opened.length === 0)
      throw firstNotSlide ?? new DicomNotSlideError(`${where}: no DICOM whole-slide images found`);
    const anchorSeries = anchor ? opened.find((o) => o.inst.where === anchor)?.inst.seriesUid : undefined;
    const chosen = new Set(
      chooseSeries(
        opened.map((o) => o.inst),
        where,
        anchorSeries,
      ),
    );
    const mine = opened.filter((o) => chosen.has(o.inst));
    for (const o of opened) if (!chosen.has(o.inst)) o.reader.close();
    const layout = layoutSeries([...chosen], where);
    const data = fileImageData(mine);
    try {
      return await buildDicomSlide(layout, data, where, options);
    } catch (err) {
      await data.close();
      throw err;
    }
  } catch (err) {
    for (const o of opened) o.reader.close();
    if (err instanceof WsiError) throw err;
    throw new SlideFormatError(`${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** A folder of DICOM files, or one DICOM file with its series' siblings. */
export async function openDicomPath(p: string, options: OpenOptions): Promise<Slide> {
  const st = await stat(p).catch((err) => {
    throw new SlideNotFoundError(`${p}: no such file or folder`, { cause: err });
  });
  if (st.isDirectory()) {
    const files = await dicomFilesIn(p);
    if (files.length === 0) throw new SlideNotFoundError(`${p}: a folder without DICOM files`);
    return openDicomFiles(files, p, options);
  }
  const anchor = await openInstance(p);
  const series = anchor.inst.seriesUid;
  anchor.reader.close();
  // The other instances of its series in the same folder (unreadable or unrelated files are skipped).
  const files = [p];
  for (const f of await dicomFilesIn(path.dirname(p))) {
    if (path.resolve(f) === path.resolve(p)) continue;
    if ((await seriesOf(f)) === series) files.push(f);
  }
  return openDicomFiles(files, p, options, p);
}

interface SeriesTags {
  seriesUid?: string;
  sopClass?: string;
}

/** A file's SeriesInstanceUID and SOP Class UID from its header alone (undefined: unreadable). */
async function seriesTagsOf(file: string): Promise<SeriesTags> {
  const size = (await stat(file)).size;
  const reader = fileReader(file);
  try {
    const read = async (o: number, n: number) => (await reader.read(o, Math.min(n, size - o))).slice();
    const header = await readDicomHeader(read, size, file);
    return {
      seriesUid: getString(header.dataset, T.SeriesInstanceUID),
      sopClass: getString(header.dataset, T.SOPClassUID) ?? getString(header.meta, 0x00020002),
    };
  } catch {
    return {};
  } finally {
    reader.close();
  }
}

async function seriesOf(file: string): Promise<string | undefined> {
  return (await seriesTagsOf(file)).seriesUid;
}

/**
 * The whole-slide series of a folder, each as its files (sorted by name), in the order of their first
 * file. Files of other objects (a structured report, a CT) and unreadable files are left out; a folder of
 * one series gives one group.
 */
export async function dicomSlideSeriesIn(dir: string): Promise<string[][]> {
  const groups = new Map<string, string[]>();
  for (const f of await dicomFilesIn(dir)) {
    const t = await seriesTagsOf(f);
    if (t.seriesUid === undefined || t.sopClass !== WSI_SOP_CLASS) continue;
    const list = groups.get(t.seriesUid) ?? [];
    list.push(f);
    groups.set(t.seriesUid, list);
  }
  return [...groups.values()];
}
