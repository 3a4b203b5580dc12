/** Paths shared by tests: the repository root, the real sample data beside it, fixtures, and temp dirs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Real sample data (../shared/data beside the clone); never modify it. */
export const dataDir = path.resolve(repoRoot, '../shared/data');
export const slidesDir = path.join(dataDir, 'slides');
export const fixturesDir = path.join(repoRoot, 'fixtures');

export const CMU_SLIDE = path.join(slidesDir, 'CMU-1-Small-Region.svs');
export const TCGA_SLIDE = path.join(slidesDir, 'tcga-cr-7395-01a-01-ts1.svs');

/**
 * A fresh temporary directory. `cleanup()` removes it; call it in afterAll/afterEach.
 * The object also works as a string path (`${dir}`) through `path`.
 */
export function tempDir(prefix: string): { path: string; cleanup(): void; toString(): string } {
  const dir = mkdtempSync(path.join(tmpdir(), `wsi-${prefix.replace(/[^a-z0-9-]/gi, '_')}-`));
  return {
    path: dir,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
    toString() {
      return dir;
    },
  };
}
