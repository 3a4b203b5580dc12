// Types for fresh-build.mjs (plain JS so it runs before anything is transpiled).

/** What dist/manifest.json holds (written by scripts/build.ts). */
export interface BuildManifest {
  format: number;
  /** The CLI entry, relative to dist/: exports `main` and `commands` (the command table). */
  entry: string;
  /** Worker kind → compiled file, relative to dist/. */
  workers: Record<string, string>;
  /** Source file (relative to the repository root) → its mtimeMs when the build read it. */
  sources: Record<string, number>;
  /** Listed folder → its .ts files when the build ran. */
  listings: Record<string, string[]>;
}

export type BuildCheck =
  | {
      fresh: true;
      dir: string;
      sources: number;
      entryUrl: string;
      workerUrl(kind: string): string | undefined;
    }
  | { fresh: false; reason: string };

export const ROOT: string;
export const DIST_DIR: string;
export const MANIFEST_FILE: string;
export const MANIFEST_FORMAT: number;
export const LISTED_DIRS: readonly string[];
export function listSources(dir: string): string[];
export function checkBuild(dir?: string): BuildCheck;
