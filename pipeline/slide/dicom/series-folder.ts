/** Whether a folder is one DICOM slide, for commands that expand folders into slides. Cheap: no parsing. */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { hasPreamble } from './preamble.ts';

/** It holds .dcm files or files with the DICM preamble, and no other slide files. */
export function isDicomSeriesFolder(dir: string, isOtherSlideFile: (name: string) => boolean): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return false;
  }
  if (names.some(isOtherSlideFile)) return false;
  return names.some((n) => {
    if (n.toLowerCase().endsWith('.dcm')) return true;
    try {
      const fd = openSync(path.join(dir, n), 'r');
      try {
        const head = new Uint8Array(132);
        return readSync(fd, head, 0, 132, 0) === 132 && hasPreamble(head);
      } finally {
        closeSync(fd);
      }
    } catch {
      return false;
    }
  });
}
