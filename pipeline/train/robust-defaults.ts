/**
 * The stain normalisation and augmentation a training gets when the user names neither, shared by
 * `wsi train` and `wsi camelyon` (chosen from the multi-centre benchmark, bench/centres.md), and the flags
 * that override them.
 */
import { boolFlag, type Parsed, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { parseStainNormFlag } from '../stain/estimate.ts';
import type { StainMethod } from '../stain/types.ts';
import { type AugmentOptions, DEFAULT_AUGMENT, STRONG_AUGMENT } from './augment.ts';

export type AugmentLevel = 'off' | 'light' | 'strong';

export const AUGMENT_LEVELS: Record<AugmentLevel, AugmentOptions> = {
  off: { geometric: false, stainScale: 0, stainShift: 0 },
  light: DEFAULT_AUGMENT,
  strong: STRONG_AUGMENT,
};

/**
 * What `wsi train` and `wsi camelyon` use when neither --stain-norm nor --augment* is given: strong
 * augmentation, no normaliser (bench/centres.md says why). The trainer's own DEFAULT_TRAIN keeps the light
 * preset for library callers and tests that pin their numbers.
 */
export const ROBUST_DEFAULTS: { stainNorm: StainMethod | 'none'; augment: AugmentLevel } = {
  stainNorm: 'none',
  augment: 'strong',
};

/** The option specs both commands accept. */
export const ROBUST_FLAGS = {
  'stain-norm': { type: 'string' },
  augmentation: { type: 'string' },
  augment: { type: 'boolean' },
  'no-augment': { type: 'boolean' },
} as const;

export function parseAugmentLevel(s: string): AugmentLevel {
  if (s in AUGMENT_LEVELS) return s as AugmentLevel;
  throw new ConfigError(`--augmentation must be off, light or strong; got '${s}'`);
}

/** --stain-norm M, --augmentation off|light|strong, --augment (= strong), --no-augment (= off). */
export function robustFlags(p: Parsed): { stainNorm: StainMethod | undefined; augment: AugmentLevel } {
  const level = stringFlag(p, 'augmentation');
  const strong = boolFlag(p, 'augment');
  const off = boolFlag(p, 'no-augment');
  if ([level !== undefined, strong, off].filter(Boolean).length > 1)
    throw new ConfigError('give only one of --augmentation, --augment and --no-augment');
  const augment =
    level !== undefined ? parseAugmentLevel(level) : strong ? 'strong' : off ? 'off' : undefined;
  return {
    stainNorm: parseStainNormFlag(stringFlag(p, 'stain-norm') ?? ROBUST_DEFAULTS.stainNorm),
    augment: augment ?? ROBUST_DEFAULTS.augment,
  };
}
