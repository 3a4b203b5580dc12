/** A study's --out remembers what its models were trained with; a rerun with other settings is refused. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { checkStudySettings, trainingSlidesKey } from '../pipeline/mil/study-settings.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('study-settings');
afterAll(() => tmp.cleanup());

describe('study settings', () => {
  it('records on the first run, accepts the same settings, names each changed one', () => {
    const out = join(tmp.path, 'a');
    const a = join(tmp.path, 'a.tif');
    writeFileSync(a, 'xx');
    const settings = { seed: 1, stainNorm: 'none', trainSlides: trainingSlidesKey([{ name: 'a', path: a }]) };
    checkStudySettings(out, settings);
    expect(() => checkStudySettings(out, { ...settings })).not.toThrow();
    expect(() => checkStudySettings(out, { ...settings, seed: 2, stainNorm: 'macenko' })).toThrow(
      /seed 1 → 2, stainNorm none → macenko/,
    );
    writeFileSync(a, 'xxx'); // a training slide replaced by another file
    const changed = { ...settings, trainSlides: trainingSlidesKey([{ name: 'a', path: a }]) };
    expect(() => checkStudySettings(out, changed)).toThrow(ConfigError);
    expect(() => checkStudySettings(out, changed)).toThrow(/training slides/);
    // An option added later reads as unset on an old study.
    expect(() => checkStudySettings(out, { ...settings, augment: true })).toThrow(/augment unset → true/);
  });
});
