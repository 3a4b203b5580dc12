/** Orthanc's dicomizer (Debian orthanc-wsi): an independent DICOM WSI writer, run on real slides for tests. */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';

export const DICOMIZER = 'OrthancWSIDicomizer';
export const LIBOPENSLIDE = '/usr/lib/x86_64-linux-gnu/libopenslide.so.0';

/**
 * Writes `slide` as a DICOM series into the folder `out` (created): `levels` levels (its own 2×
 * pyramid), JPEG unless `extra` says otherwise. Async, so a vitest worker stays responsive meanwhile.
 */
export async function dicomize(slide: string, out: string, extra: string[] = [], levels = 3): Promise<void> {
  mkdirSync(out, { recursive: true });
  await promisify(execFile)(DICOMIZER, [
    '--openslide',
    LIBOPENSLIDE,
    '--folder',
    out,
    '--pyramid',
    '1',
    '--levels',
    String(levels),
    ...extra,
    slide,
  ]);
}
