/**
 * The fully convolutional patch classifier: valid convolutions (optionally batch-normalised) and
 * poolings, then a 1×1 convolution head with a sigmoid. No Dense layers, and the input's spatial size is
 * left open, so the same model scores one patch (input = receptive field → 1 × 1 output) or a whole tile
 * (→ a dense score map with the model's output stride). Geometry comes from the layer list.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { type Geometry, geometryOf, type SpatialStep } from './geometry.ts';
import type { ModelMeta } from './model-io.ts';
import { DEFAULT_NORMALISATION, type Normalisation } from './normalise.ts';

export type LayerSpec =
  | {
      type: 'conv';
      filters: number;
      kernel: number;
      stride?: number;
      dilation?: number;
      /** Batch norm between the convolution and the ReLU (folded into the convolution on export). */
      batchNorm?: boolean;
      activation?: 'relu' | 'linear';
    }
  | { type: 'maxpool' | 'avgpool'; size: number; stride?: number };

export interface ArchSpec {
  name: string;
  layers: LayerSpec[];
}

/** Names of the layers other code relies on. */
export const FEATURES_LAYER = 'features';
const HEAD_LAYER = 'head';

function block(filters: number): LayerSpec[] {
  return [
    { type: 'conv', filters, kernel: 3, batchNorm: true },
    { type: 'conv', filters, kernel: 3, batchNorm: true },
  ];
}

/**
 * Small default for CPU training: 8 valid 3×3 convolutions (16-32-64-64 channels), 3 max-pools.
 * Receptive field 68 px, stride 8 px; about 30 M multiply-adds per patch. Meant for 1 µm/px input.
 */
export const SMALL_ARCH: ArchSpec = {
  name: 'fcn-small',
  layers: [
    ...block(16),
    { type: 'maxpool', size: 2 },
    ...block(32),
    { type: 'maxpool', size: 2 },
    ...block(64),
    { type: 'maxpool', size: 2 },
    ...block(64),
  ],
};

/** Larger model for a GPU: 10 convolutions (32-64-128-256-256), 4 pools; receptive field 140 px, stride 16. */
export const LARGE_ARCH: ArchSpec = {
  name: 'fcn-large',
  layers: [
    ...block(32),
    { type: 'maxpool', size: 2 },
    ...block(64),
    { type: 'maxpool', size: 2 },
    ...block(128),
    { type: 'maxpool', size: 2 },
    ...block(256),
    { type: 'maxpool', size: 2 },
    ...block(256),
  ],
};

export const ARCHS: Readonly<Record<string, ArchSpec>> = {
  [SMALL_ARCH.name]: SMALL_ARCH,
  [LARGE_ARCH.name]: LARGE_ARCH,
};

export function stepsOf(spec: ArchSpec): SpatialStep[] {
  return spec.layers.map((l) =>
    l.type === 'conv'
      ? { kernel: l.kernel, stride: l.stride ?? 1, dilation: l.dilation ?? 1 }
      : { kernel: l.size, stride: l.stride ?? l.size, dilation: 1 },
  );
}

/** Receptive field and stride of the architecture (the 1×1 head adds nothing). */
export function archGeometry(spec: ArchSpec): Geometry {
  return geometryOf(stepsOf(spec));
}

/**
 * Builds the tfjs model. The last hidden activation is named 'features' (embeddings), the 1×1 sigmoid
 * head 'head'. `seed` makes the initial weights reproducible.
 */
export function buildPatchClassifier(spec: ArchSpec, options: { seed?: number } = {}): tf.LayersModel {
  if (spec.layers.length === 0) throw new ModelError(`architecture '${spec.name}' has no layers`);
  let seed = options.seed ?? 1;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const input = tf.input({ shape: [null, null, 3], name: 'image' });
  let x: tf.SymbolicTensor = input;
  const last = spec.layers.length - 1;
  spec.layers.forEach((l, i) => {
    const name = i === last ? FEATURES_LAYER : undefined;
    if (l.type === 'conv') {
      const bn = l.batchNorm ?? false;
      const act = l.activation ?? 'relu';
      x = tf.layers
        .conv2d({
          filters: l.filters,
          kernelSize: l.kernel,
          strides: l.stride ?? 1,
          dilationRate: l.dilation ?? 1,
          padding: 'valid',
          useBias: !bn,
          activation: bn ? 'linear' : act,
          kernelInitializer: init(),
          name: bn ? undefined : name,
        })
        .apply(x) as tf.SymbolicTensor;
      if (bn) {
        x = tf.layers.batchNormalization({ axis: -1 }).apply(x) as tf.SymbolicTensor;
        x = tf.layers.activation({ activation: act, name }).apply(x) as tf.SymbolicTensor;
      }
    } else {
      const cfg = { poolSize: l.size, strides: l.stride ?? l.size, padding: 'valid' as const, name };
      x = (l.type === 'maxpool' ? tf.layers.maxPooling2d(cfg) : tf.layers.averagePooling2d(cfg)).apply(
        x,
      ) as tf.SymbolicTensor;
    }
  });
  const head = tf.layers
    .conv2d({
      filters: 1,
      kernelSize: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
      name: HEAD_LAYER,
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: head, name: spec.name });
}

/**
 * Geometry read back from a built model's layers (a chain of valid Conv2D / pooling layers; batch norm
 * and activations are pointwise). Throws ModelError for anything that would break the FCN equivalence.
 */
export function modelGeometry(model: tf.LayersModel): Geometry {
  const steps: SpatialStep[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (cls === 'InputLayer' || cls === 'BatchNormalization' || cls === 'Activation' || cls === 'ReLU')
      continue;
    const pair = (v: unknown): number => {
      const a = Array.isArray(v) ? v : [v, v];
      if (a[0] !== a[1]) throw new ModelError(`layer ${layer.name}: non-square ${JSON.stringify(v)}`);
      return Number(a[0]);
    };
    if (cfg.padding !== undefined && cfg.padding !== 'valid') {
      throw new ModelError(`layer ${layer.name} uses '${cfg.padding}' padding: FCN inference needs 'valid'`);
    }
    if (cls === 'Conv2D') {
      steps.push({
        kernel: pair(cfg.kernelSize),
        stride: pair(cfg.strides),
        dilation: pair(cfg.dilationRate),
      });
    } else if (cls === 'MaxPooling2D' || cls === 'AveragePooling2D') {
      steps.push({ kernel: pair(cfg.poolSize), stride: pair(cfg.strides ?? cfg.poolSize), dilation: 1 });
    } else {
      throw new ModelError(`layer ${layer.name} (${cls}) is not allowed in a fully convolutional classifier`);
    }
  }
  return geometryOf(steps);
}

/**
 * A model from the input to the 'features' activation, globally average-pooled: one embedding vector
 * per patch ([n, channels]), for attention-MIL and other slide-level models.
 */
export function embeddingModel(model: tf.LayersModel): (batch: tf.Tensor4D) => tf.Tensor2D {
  const features = model.getLayer(FEATURES_LAYER);
  const sub = tf.model({ inputs: model.inputs, outputs: features.output as tf.SymbolicTensor });
  return (batch) => tf.tidy(() => (sub.predict(batch) as tf.Tensor4D).mean([1, 2]) as tf.Tensor2D);
}

/**
 * A new (untrained) classifier and its sidecar metadata: patch size = receptive field, so one patch gives
 * one score. `mpp` is the µm/px the patches are read at. The trainer fills `training` when it is done.
 */
export function newPatchClassifier(
  spec: ArchSpec,
  options: { mpp: number; normalisation?: Normalisation; seed?: number; name?: string },
): { model: tf.LayersModel; meta: ModelMeta } {
  if (!(options.mpp > 0)) throw new ModelError(`patch classifier mpp must be positive, got ${options.mpp}`);
  const model = buildPatchClassifier(spec, { seed: options.seed });
  const geometry = archGeometry(spec);
  const meta: ModelMeta = {
    format: 1,
    name: options.name ?? spec.name,
    kind: 'patch-classifier',
    architecture: spec,
    input: {
      mpp: options.mpp,
      patchSize: geometry.receptiveField,
      normalisation: options.normalisation ?? DEFAULT_NORMALISATION,
    },
    geometry,
    createdAt: new Date().toISOString(),
  };
  return { model, meta };
}

/** Multiply-adds of one forward pass on a height × width input (convolutions and the head; pooling, BN and ReLU are negligible). */
export function multiplyAdds(spec: ArchSpec, height: number, width: number): number {
  let h = height;
  let w = width;
  let channels = 3;
  let macs = 0;
  for (const l of spec.layers) {
    const k = l.type === 'conv' ? l.kernel : l.size;
    const stride = l.stride ?? (l.type === 'conv' ? 1 : l.size);
    const span = (k - 1) * (l.type === 'conv' ? (l.dilation ?? 1) : 1) + 1;
    h = Math.floor((h - span) / stride) + 1;
    w = Math.floor((w - span) / stride) + 1;
    if (h <= 0 || w <= 0) return macs;
    if (l.type === 'conv') {
      macs += h * w * k * k * channels * l.filters;
      channels = l.filters;
    }
  }
  return macs + h * w * channels;
}
