/** The tfjs model as an inference engine: the reference the ONNX export is tested against, and the fallback. */
import * as tf from '@tensorflow/tfjs';
import type { InferenceEngine } from './fcn-tile.ts';

/** The tfjs model as an engine (the reference the ONNX export is tested against). */
export function tfjsEngine(model: tf.LayersModel): InferenceEngine {
  return {
    name: `tfjs-${tf.getBackend()}`,
    async run(data, shape) {
      const out = tf.tidy(() => model.predict(tf.tensor4d(data, shape)) as tf.Tensor);
      const values = (await out.data()) as Float32Array;
      const outShape = out.shape;
      out.dispose();
      return { data: values, shape: outShape };
    },
    async close() {},
  };
}
