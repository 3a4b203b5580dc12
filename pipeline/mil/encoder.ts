/**
 * Patch encoders for embeddings: a trained patch classifier cut at a layer (by default its 'features'
 * layer, the last hidden activation before the 1×1 head), with spatial maps averaged to one vector per
 * patch. Works for any tfjs Layers model; the layer must exist and give a [n, h, w, c] or [n, c] output.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import type { ModelMeta } from '../models/model-io.ts';
import { normaliseInto } from '../models/normalise.ts';
import { FEATURES_LAYER } from '../models/patch-classifier.ts';
import type { RGBImage } from '../slide/types.ts';

export interface PatchEncoder {
  /** Embedding length. */
  readonly dim: number;
  readonly layer: string;
  /** Embeds same-sized patches; returns [patches.length × dim] float32. */
  embed(patches: readonly RGBImage[]): Promise<Float32Array>;
  dispose(): void;
}

export function createPatchEncoder(
  model: tf.LayersModel,
  meta: ModelMeta,
  layer = FEATURES_LAYER,
): PatchEncoder {
  let target: tf.layers.Layer;
  try {
    target = model.getLayer(layer);
  } catch {
    const names = model.layers.map((l) => l.name).join(', ');
    throw new ModelError(`model '${meta.name}' has no layer '${layer}' (layers: ${names})`);
  }
  const output = target.output as tf.SymbolicTensor;
  const rank = output.shape.length;
  if (rank !== 4 && rank !== 2) {
    throw new ModelError(
      `layer '${layer}' gives rank-${rank} output; embeddings need [n, h, w, c] or [n, c]`,
    );
  }
  const dim = output.shape[rank - 1];
  if (typeof dim !== 'number') throw new ModelError(`layer '${layer}' has no fixed channel count`);
  const sub = tf.model({ inputs: model.inputs, outputs: output });
  const norm = meta.input.normalisation;
  return {
    dim,
    layer,
    async embed(patches) {
      if (patches.length === 0) return new Float32Array(0);
      const { width, height } = patches[0];
      const data = new Float32Array(patches.length * width * height * 3);
      let offset = 0;
      for (const p of patches) {
        if (p.width !== width || p.height !== height) {
          throw new ModelError(
            `patches of one batch must share a size: ${p.width}×${p.height} vs ${width}×${height}`,
          );
        }
        offset += normaliseInto(p.data, p.channels, norm, data, offset);
      }
      const out = tf.tidy(() => {
        const y = sub.predict(tf.tensor4d(data, [patches.length, height, width, 3])) as tf.Tensor;
        return rank === 4 ? y.mean([1, 2]) : y;
      });
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    dispose() {
      // The sub-model shares the classifier's weights; disposing the classifier frees them.
    },
  };
}
