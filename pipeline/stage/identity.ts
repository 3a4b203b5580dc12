/**
 * Content hashes for run identity: a run is its config plus the content of every input that changes its
 * output (model files, annotation files, sidecars), never where those files sit. A model retrained into
 * the same folder hashes differently (new run); the same model copied elsewhere hashes the same (resume).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError } from '../errors.ts';

/** sha256 over the named files' names and bytes, in name order (files that do not exist are skipped). */
export function hashFiles(dir: string, names: readonly string[]): string {
  const h = createHash('sha256');
  for (const name of [...names].sort()) {
    const file = join(dir, name);
    if (!existsSync(file) || !statSync(file).isFile()) continue;
    h.update(`${name}\0`);
    h.update(readFileSync(file));
    h.update('\0');
  }
  return h.digest('hex');
}

/** Hash of a folder's regular files (not sub-folders, not temp files) whose name passes `keep`. */
export function hashFolder(dir: string, keep: (name: string) => boolean = () => true): string {
  const names = readdirSync(dir).filter(
    (n) => keep(n) && !/\.tmp/.test(n) && statSync(join(dir, n)).isFile(),
  );
  return hashFiles(dir, names);
}

/** A model directory's identity: the hash of every file in it. */
export function modelContentHash(dir: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModelError(`model folder not found: ${dir}`);
  return hashFolder(dir);
}
