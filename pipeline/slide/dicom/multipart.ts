/** The first part of a multipart/related response (WADO-RS frames): its body and content type. */
import { SlideFormatError } from '../../errors.ts';

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  return m?.[2];
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let k = 1; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

export function firstPart(
  body: Uint8Array,
  contentType: string,
  where: string,
): { bytes: Uint8Array; contentType: string } {
  const boundary = boundaryOf(contentType);
  if (!/^multipart\//i.test(contentType) || !boundary) return { bytes: body, contentType };
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const start = indexOf(body, delim, 0);
  if (start < 0) throw new SlideFormatError(`${where}: multipart response without its boundary`);
  const headerEnd = indexOf(body, Buffer.from('\r\n\r\n', 'latin1'), start);
  if (headerEnd < 0) throw new SlideFormatError(`${where}: multipart part without headers`);
  const headers = Buffer.from(body.subarray(start + delim.length, headerEnd)).toString('latin1');
  const partType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? '';
  const dataStart = headerEnd + 4;
  const end = indexOf(body, Buffer.from(`\r\n--${boundary}`, 'latin1'), dataStart);
  if (end < 0) throw new SlideFormatError(`${where}: multipart part is cut short`);
  return { bytes: body.subarray(dataStart, end), contentType: partType };
}

/** The transfer-syntax parameter of a media type, if any. */
export function transferSyntaxOf(contentType: string): string | undefined {
  return /transfer-syntax=("?)([0-9.]+)\1/i.exec(contentType)?.[2];
}
