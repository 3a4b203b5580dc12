/**
 * The stain-normalisation and augmentation defaults of `wsi train` and `wsi camelyon` (chosen by
 * bench/centres.ts) and the flags that override them: a bare command gets ROBUST_DEFAULTS, each flag
 * maps to its preset, and contradictory or unknown values are refused in one line.
 */
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../pipeline/args.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { DEFAULT_AUGMENT, STRONG_AUGMENT } from '../pipeline/train/augment.ts';
import {
  AUGMENT_LEVELS,
  ROBUST_DEFAULTS,
  ROBUST_FLAGS,
  robustFlags,
} from '../pipeline/train/robust-defaults.ts';

const parse = (...argv: string[]) => robustFlags(parseFlags(argv, { ...ROBUST_FLAGS }, false));

describe('robust training defaults and flags', () => {
  it('a bare command gets the benchmark-chosen defaults', () => {
    const r = parse();
    expect(r.augment).toBe(ROBUST_DEFAULTS.augment);
    expect(r.stainNorm ?? 'none').toBe(ROBUST_DEFAULTS.stainNorm);
  });

  it('maps each flag to its preset, and --stain-norm none to no normaliser whatever the default', () => {
    expect(parse('--augment').augment).toBe('strong');
    expect(parse('--no-augment').augment).toBe('off');
    expect(parse('--augmentation', 'light').augment).toBe('light');
    expect(parse('--augmentation', 'strong').augment).toBe('strong');
    expect(parse('--stain-norm', 'none').stainNorm).toBeUndefined();
    expect(parse('--stain-norm', 'vahadane').stainNorm).toBe('vahadane');
    expect(AUGMENT_LEVELS.light).toBe(DEFAULT_AUGMENT);
    expect(AUGMENT_LEVELS.strong).toBe(STRONG_AUGMENT);
    expect(AUGMENT_LEVELS.off).toEqual({ geometric: false, stainScale: 0, stainShift: 0 });
  });

  it('refuses contradictions and unknown values in one line', () => {
    for (const argv of [
      ['--augment', '--no-augment'],
      ['--augmentation', 'light', '--augment'],
      ['--augmentation', 'heavy'],
      ['--stain-norm', 'ruifrok'],
    ]) {
      let err: unknown;
      try {
        parse(...argv);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});
