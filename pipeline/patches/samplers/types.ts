/** The sampler interface the trainer uses: draw a batch of patch indices, feed back per-sample losses. */
import type { RngState } from '../../util/rng.ts';

export type SamplerKind = 'uniform' | 'balanced' | 'cased';

export interface PatchSampler {
  readonly kind: SamplerKind;
  /** Number of patches in the training set. */
  readonly size: number;
  /** Draws one batch (indices into the training set, with replacement) and advances the sampler's step. */
  draw(batchSize: number): Uint32Array;
  /** Per-sample losses of the batch just trained (CASED moves weight to high-loss patches; others ignore it). */
  update(indices: ArrayLike<number>, losses: ArrayLike<number>): void;
  /** Indices to re-score now (CASED's periodic refresh every K steps); empty when nothing is due. */
  refreshDue(): Uint32Array;
  /** Probability that one draw picks patch i (exact, for tests and diagnostics). */
  probability(i: number): number;
  /** Everything needed to continue with exactly the same draws (JSON-safe). */
  state(): SamplerState;
}

export interface SamplerState {
  kind: SamplerKind;
  config: Record<string, number>;
  step: number;
  rng: RngState;
  /** Per-patch weights (CASED), float32 little-endian, base64. */
  weights?: string;
  refreshCursor?: number;
  /** Guards against restoring onto a different training set. */
  size: number;
  positives: number;
}
