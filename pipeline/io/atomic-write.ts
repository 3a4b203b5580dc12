/**
 * Atomic file writes: the bytes go to a temp file beside the target, which is then renamed over it, so a
 * reader (or a rerun after a crash) sees the old file or the whole new one, never half of one. The temp name
 * is unique per process, thread and write (`<file>.<pid>.<thread>.<n>.tmp`), so parallel writers of the same
 * target never share a temp file; a failed write removes its temp file.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { threadId } from 'node:worker_threads';

let writes = 0;

/** A fresh temp path beside `file`. */
function tempPathFor(file: string): string {
  writes += 1;
  return `${file}.${process.pid}.${threadId}.${writes}.tmp`;
}

export interface AtomicWriteOptions {
  /** Create the target's folder first (default false). */
  mkdir?: boolean;
}

export function writeFileAtomic(file: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  if (o.mkdir) mkdirSync(dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** For writers that stream to a path of their own: `write(tmp)` fills the temp file, then it becomes `file`. */
export async function writeFileAtomicWith(
  file: string,
  write: (tmp: string) => Promise<unknown>,
): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await write(tmp);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
