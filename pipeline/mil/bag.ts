/** Bags of instance embeddings and whole-bag inference (every instance, no sampling, no dropout). */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';

/** One slide as a bag: `embeddings` holds `size` rows of `dim` floats, row-major. */
export interface Bag {
  id: string;
  embeddings: Float32Array;
  size: number;
  dim: number;
  /** Slide label when known: 1 positive (tumour), 0 negative. */
  label?: 0 | 1;
}

export function makeBag(id: string, embeddings: Float32Array, dim: number, label?: 0 | 1): Bag {
  if (!Number.isInteger(dim) || dim < 1) throw new ConfigError(`bag ${id}: embedding length must be ≥ 1`);
  if (embeddings.length % dim !== 0 || embeddings.length === 0) {
    throw new ConfigError(
      `bag ${id}: ${embeddings.length} values are not a whole number of ${dim}-long rows`,
    );
  }
  return { id, embeddings, size: embeddings.length / dim, dim, label };
}

export interface BagPrediction {
  probability: number;
  /** Attention weights (sum 1) for attention-MIL; instance probabilities for max pooling. */
  weights: Float32Array;
}

/** Runs the model over every instance of the bag. */
export async function predictBag(model: tf.LayersModel, bag: Bag): Promise<BagPrediction> {
  const expected = (model.inputs[0].shape as (number | null)[])[2];
  if (expected !== bag.dim) {
    throw new ConfigError(`bag ${bag.id}: embeddings have length ${bag.dim}, the model expects ${expected}`);
  }
  const outs = tf.tidy(() => {
    const x = tf.tensor3d(bag.embeddings, [1, bag.size, bag.dim]);
    return model.predict(x) as tf.Tensor[];
  });
  try {
    const [p, w] = await Promise.all(outs.map((t) => t.data()));
    return { probability: p[0], weights: Float32Array.from(w) };
  } finally {
    for (const t of outs) t.dispose();
  }
}

/** Scales weights to [0, 1] per bag for display (min → 0, max → 1; all equal → all 1). */
export function normaliseWeights(weights: ArrayLike<number>): Float32Array {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < weights.length; i++) {
    lo = Math.min(lo, weights[i]);
    hi = Math.max(hi, weights[i]);
  }
  const out = new Float32Array(weights.length);
  const span = hi - lo;
  for (let i = 0; i < weights.length; i++) out[i] = span > 0 ? (weights[i] - lo) / span : 1;
  return out;
}

/** Copies `rows` (indices) of a bag into a new [rows.length × dim] array. */
export function gatherRows(bag: Bag, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * bag.dim);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.set(bag.embeddings.subarray(r * bag.dim, (r + 1) * bag.dim), i * bag.dim);
  }
  return out;
}
