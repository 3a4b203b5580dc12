/**
 * MIL model and training settings: public options (all optional) and the filled config a model is
 * trained with and saved beside (sidecar). Each bad value throws a ConfigError naming the option.
 */
import { ConfigError } from '../errors.ts';

export type MilKind = 'attention' | 'max';

export interface MilModelConfig {
  /** 'attention': gated attention pooling (Ilse et al. 2018); 'max': slide score = max instance score. */
  kind: MilKind;
  /** Embedding length D (set from the data). */
  inputDim: number;
  /** Width of the instance projection h_k = ReLU(W x_k) that attention pools. */
  hiddenDim: number;
  /** Width of the gated attention branches V and U. */
  attentionDim: number;
  /** Dropout rate on the projected instances and on the pooled bag vector (training only). */
  dropout: number;
  /** Seed for weight initialisation. */
  seed: number;
}

export interface MilTrainConfig {
  epochs: number;
  /** Stop when validation AUC has not improved for this many epochs (best weights are kept). */
  patience: number;
  /**
   * Epochs before model selection starts: a small validation set can give a lucky perfect AUC in the
   * first epochs, which early stopping would then never let go of.
   */
  warmupEpochs: number;
  learningRate: number;
  /** L2 penalty on the kernels, added to the loss. */
  weightDecay: number;
  /** Bags whose gradients are averaged per optimiser step. */
  bagsPerStep: number;
  /** At most this many instances are sampled from a bag per training step; inference uses all. */
  maxInstances: number;
  /** 'balanced' weights each class by n / (2 · n_class); 'none' weights every bag 1. */
  classWeights: 'balanced' | 'none';
  /** Seed for bag order and instance sampling. */
  seed: number;
}

export type MilConfig = MilModelConfig & MilTrainConfig;

const DEFAULT_MIL_CONFIG: Omit<MilConfig, 'inputDim'> = {
  kind: 'attention',
  hiddenDim: 64,
  attentionDim: 32,
  dropout: 0.25,
  seed: 1,
  epochs: 80,
  patience: 15,
  warmupEpochs: 10,
  learningRate: 2e-3,
  weightDecay: 1e-4,
  bagsPerStep: 4,
  maxInstances: 512,
  classWeights: 'balanced',
};

function check(ok: boolean, message: string): void {
  if (!ok) throw new ConfigError(message);
}

/** Fills defaults and validates; `inputDim` must come from the data. */
export function resolveMilConfig(options: Partial<MilConfig> & { inputDim: number }): MilConfig {
  const c: MilConfig = { ...DEFAULT_MIL_CONFIG, ...stripUndefined(options) } as MilConfig;
  check(c.kind === 'attention' || c.kind === 'max', `MIL kind must be 'attention' or 'max', got '${c.kind}'`);
  for (const key of [
    'inputDim',
    'hiddenDim',
    'attentionDim',
    'epochs',
    'bagsPerStep',
    'maxInstances',
  ] as const) {
    check(Number.isInteger(c[key]) && c[key] >= 1, `${key} must be a positive integer, got ${c[key]}`);
  }
  check(
    Number.isInteger(c.patience) && c.patience >= 0,
    `patience must be an integer ≥ 0, got ${c.patience}`,
  );
  check(c.dropout >= 0 && c.dropout < 1, `dropout must be in [0, 1), got ${c.dropout}`);
  check(
    c.learningRate > 0 && Number.isFinite(c.learningRate),
    `learningRate must be > 0, got ${c.learningRate}`,
  );
  check(
    c.weightDecay >= 0 && Number.isFinite(c.weightDecay),
    `weightDecay must be ≥ 0, got ${c.weightDecay}`,
  );
  check(
    c.classWeights === 'balanced' || c.classWeights === 'none',
    `classWeights must be 'balanced' or 'none', got '${c.classWeights}'`,
  );
  check(Number.isInteger(c.seed), `seed must be an integer, got ${c.seed}`);
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
