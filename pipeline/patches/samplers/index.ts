/** Patch samplers for training: uniform, class-balanced and CASED, created from config or restored from a checkpoint. */
import { ConfigError } from '../../errors.ts';
import { type CasedOptions, createCasedSampler } from './cased.ts';
import { createBalancedSampler, createUniformSampler } from './simple.ts';
import type { PatchSampler, SamplerKind, SamplerState } from './types.ts';

export type { CasedOptions } from './cased.ts';
export type { PatchSampler, SamplerKind, SamplerState } from './types.ts';

const SAMPLER_KINDS: readonly SamplerKind[] = ['uniform', 'balanced', 'cased'];

export function parseSamplerKind(s: string): SamplerKind {
  if (!(SAMPLER_KINDS as readonly string[]).includes(s))
    throw new ConfigError(`--sampler must be one of ${SAMPLER_KINDS.join(', ')}, got '${s}'`);
  return s as SamplerKind;
}

export function createSampler(
  kind: SamplerKind,
  labels: ArrayLike<number>,
  options: CasedOptions,
): PatchSampler {
  if (kind === 'uniform') return createUniformSampler(labels, options);
  if (kind === 'balanced') return createBalancedSampler(labels, options);
  return createCasedSampler(labels, options);
}

/** Rebuilds a sampler from its saved state; the labels must be the same training set. */
export function restoreSampler(state: SamplerState, labels: ArrayLike<number>): PatchSampler {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  if (state.size !== labels.length || state.positives !== positives)
    throw new ConfigError(
      `checkpoint sampler was saved for ${state.size} patches (${state.positives} tumour), the training set now has ${labels.length} (${positives})`,
    );
  const options = state.config as unknown as CasedOptions;
  const restore = {
    step: state.step,
    rng: state.rng,
    weights: state.weights,
    refreshCursor: state.refreshCursor,
  };
  if (state.kind === 'uniform') return createUniformSampler(labels, options, restore);
  if (state.kind === 'balanced') return createBalancedSampler(labels, options, restore);
  if (state.kind === 'cased') return createCasedSampler(labels, options, restore);
  throw new ConfigError(`unknown sampler kind '${String(state.kind)}' in checkpoint`);
}
