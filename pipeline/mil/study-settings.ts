/**
 * What a study's trained models depend on, recorded in OUT/study-settings.json at its first run. A rerun
 * into the same --out resumes only when these match: otherwise "already trained" would silently reuse a
 * classifier trained with another seed, stain normalisation or set of training slides. The test folder
 * is not part of it (scoring another test set with the same models is allowed).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';

export type StudySettings = Record<string, string | number | boolean | null>;

const FILE = 'study-settings.json';

/** Training slides by name and byte size (their pixels are hashed later; a changed file changes its size in practice). */
export function trainingSlidesKey(slides: readonly { name: string; path: string }[]): string {
  return slides
    .map((s) => `${s.name}:${statSync(s.path).size}`)
    .sort()
    .join(',');
}

/**
 * Records `settings` on a first run; on a rerun, throws a ConfigError naming every setting that differs.
 * A missing value (an option added later) compares as null.
 */
export function checkStudySettings(outDir: string, settings: StudySettings): void {
  const file = join(outDir, FILE);
  if (!existsSync(file)) {
    mkdirSync(outDir, { recursive: true });
    writeFileAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
    return;
  }
  let before: StudySettings;
  try {
    before = JSON.parse(readFileSync(file, 'utf8')) as StudySettings;
  } catch {
    throw new ConfigError(`${file} is not valid JSON: delete it or choose another --out`);
  }
  const changed = [...new Set([...Object.keys(before), ...Object.keys(settings)])]
    .filter((k) => (before[k] ?? null) !== (settings[k] ?? null))
    .map((k) => (k === 'trainSlides' ? 'training slides' : `${k} ${show(before[k])} → ${show(settings[k])}`));
  if (changed.length > 0) {
    throw new ConfigError(
      `${outDir} holds a study trained with other settings (${changed.join(', ')}): use another --out, or rerun with the same settings to resume`,
    );
  }
}

function show(v: StudySettings[string] | undefined): string {
  return v === undefined || v === null ? 'unset' : String(v);
}
