/**
 * Where a patch classifier looks: two maps over one patch, both P × P, scaled to [0, 1].
 *  - gradient: |∂ logit / ∂ pixel|, the largest over the three channels (Simonyan et al. 2014).
 *  - gradCam: Grad-CAM at the deepest layer that still has at least 4 × 4 positions, in its
 *    element-wise form (HiResCAM, Draelos & Carin 2020: ReLU(Σ_c ∂logit/∂A_c ⊙ A_c)). The original's
 *    channel-averaged weights can light up places the score does not depend on; this form cannot.
 *    The layer map is placed at its receptive-field centres and interpolated bilinearly.
 * The logit is the head's pre-sigmoid output, so a saturated probability still has a gradient.
 * The model must be the chain of layers patch-classifier.ts builds (modelGeometry checks it).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { modelGeometry } from './patch-classifier.ts';

export interface SaliencyMaps {
  size: number;
  /** Row-major size × size, in [0, 1]. */
  gradient: Float32Array;
  gradCam: Float32Array;
  /** The model's probability for the patch. */
  score: number;
  /** Name of the layer Grad-CAM used. */
  camLayer: string;
}

/** Applies layers[from..] to `x`; the last layer (the sigmoid head) without its sigmoid. */
function runFrom(layers: tf.layers.Layer[], from: number, x: tf.Tensor): tf.Tensor {
  let a = x;
  for (let i = from; i < layers.length; i++) {
    const layer = layers[i];
    if (i === layers.length - 1 && layer.getClassName() === 'Conv2D') {
      const [kernel, bias] = layer.getWeights();
      a = tf.conv2d(a as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'valid');
      if (bias) a = a.add(bias);
    } else {
      a = layer.apply(a) as tf.Tensor;
    }
  }
  return a.sum(); // one patch → one logit
}

function scaleToUnit(v: Float32Array): Float32Array {
  let max = 0;
  for (const x of v) if (x > max) max = x;
  if (max > 0) for (let i = 0; i < v.length; i++) v[i] /= max;
  return v;
}

/** `patch`: one normalised patch (size × size × 3, as the model takes it). */
export function saliency(model: tf.LayersModel, patch: Float32Array, size: number): SaliencyMaps {
  if (patch.length !== size * size * 3)
    throw new ModelError(`saliency: patch has ${patch.length} values, expected ${size}×${size}×3`);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const last = layers[layers.length - 1];
  if (!last || last.getClassName() !== 'Conv2D')
    throw new ModelError('saliency: the model does not end in a 1×1 convolution head');
  return tf.tidy(() => {
    const x = tf.tensor4d(patch, [1, size, size, 3]);
    const score = (model.predict(x) as tf.Tensor).dataSync()[0];
    const gx = tf.grad((input: tf.Tensor) => runFrom(layers, 0, input))(x);
    const gradient = scaleToUnit(gx.abs().max(3).dataSync() as Float32Array);

    // The deepest activation with ≥ 4 × 4 positions (falls back to the first layer's).
    let a: tf.Tensor = x;
    let camAt = 0;
    let cam: tf.Tensor = x;
    for (let i = 0; i < layers.length - 1; i++) {
      a = layers[i].apply(a) as tf.Tensor;
      if (i === 0 || Math.min(a.shape[1]!, a.shape[2]!) >= 4) {
        camAt = i;
        cam = a;
      }
    }
    const g = tf.grad((act: tf.Tensor) => runFrom(layers, camAt + 1, act))(cam);
    const map = g.mul(cam).sum(3).relu().squeeze([0]) as tf.Tensor2D; // [h, w]
    const [h, w] = map.shape;
    const values = map.dataSync() as Float32Array;
    const geom = modelGeometry(
      tf.model({ inputs: model.inputs, outputs: layers[camAt].output as tf.SymbolicTensor }),
    );
    const gradCam = new Float32Array(size * size);
    const c0 = (geom.receptiveField - 1) / 2;
    const at = (i: number, n: number): [number, number, number] => {
      const f = Math.min(n - 1, Math.max(0, (i - c0) / geom.stride));
      const lo = Math.floor(f);
      return [lo, Math.min(n - 1, lo + 1), f - lo];
    };
    for (let yy = 0; yy < size; yy++) {
      const [y0, y1, fy] = at(yy, h);
      for (let xx = 0; xx < size; xx++) {
        const [x0, x1, fx] = at(xx, w);
        const top = values[y0 * w + x0] * (1 - fx) + values[y0 * w + x1] * fx;
        const bottom = values[y1 * w + x0] * (1 - fx) + values[y1 * w + x1] * fx;
        gradCam[yy * size + xx] = top * (1 - fy) + bottom * fy;
      }
    }
    return { size, gradient, gradCam: scaleToUnit(gradCam), score, camLayer: layers[camAt].name };
  });
}
