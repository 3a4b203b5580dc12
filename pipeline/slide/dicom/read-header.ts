/**
 * Reads a DICOM file's header by ranges: 256 KiB first, then twice as much until the parser reaches
 * Pixel Data. Pixel data is never read here. A file without a DICM preamble gives undefined.
 */
import { SlideFormatError } from '../../errors.ts';
import { DicomParseError, NeedMoreBytes, type ParsedHeader, parseHeader } from './parse.ts';

export type RangeReader = (offset: number, length: number) => Promise<Uint8Array>;

const FIRST_READ = 256 * 1024;
/** Headers beyond this are refused (per-frame groups of ~1M frames); real ones are a few MB. */
const MAX_HEADER = 512 * 1024 * 1024;

export async function readDicomHeader(
  read: RangeReader,
  fileSize: number,
  where: string,
): Promise<ParsedHeader> {
  let want = Math.min(FIRST_READ, fileSize);
  for (;;) {
    const buf = await read(0, want);
    try {
      return parseHeader(buf, want >= fileSize);
    } catch (err) {
      if (err instanceof NeedMoreBytes) {
        const next = Math.min(fileSize, Math.max(err.needed, want * 2));
        if (next > MAX_HEADER)
          throw new SlideFormatError(`${where}: DICOM header larger than ${MAX_HEADER} bytes`);
        want = next;
        continue;
      }
      if (err instanceof DicomParseError) {
        throw new SlideFormatError(`${where}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
}
