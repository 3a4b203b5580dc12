// Types for fresh-build.mjs (plain JS so it runs before anything is transpiled).

/** What dist/manifest.json holds (written by scripts/build.ts). */
export interface BuildManifest {
  format: number;
  /** The CLI entry, relative to dist/: exports `main` and `commands` (the command table). */
  entry: string;
  /** Worker kind → compiled file, relative to dist/. */
  workers: Record<string, string>;
  /** Every source file the build read (relative to the repository root; inlined packages by package.json). */
  files: string[];
  /** Each file's mtimeMs when the build read it. */
  mtimes: number[];
  /** Listed folder → its .ts files when the build ran. */
  listings: Record<string, string[]>;
  /** Indices into files: what `wsi --help` reads, and what `wsi <command>` can load. */
  groups: { help: number[]; commands: Record<string, number[]> };
}

export type BuildCheck =
  | {
      fresh: true;
      dir: string;
      /** Files checked. */
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
export function checkBuild(options?: { dir?: string; command?: string; help?: boolean }): BuildCheck;
