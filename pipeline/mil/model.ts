/**
 * MIL models as tfjs Layers models, one bag per call: input [1, N, D] with N free, so a bag of any
 * size runs through the same graph. Two outputs: the bag probability [1, 1] and per-instance weights
 * [1, 1, N] — attention weights (summing to 1) for 'attention', instance probabilities for 'max'.
 *
 * Gated attention (Ilse, Tomczak & Welling 2018, eq. 9):
 *   h_k = ReLU(W x_k),  a_k = softmax_k( wᵀ (tanh(V h_k) ⊙ sigm(U h_k)) ),  z = Σ_k a_k h_k,  p = σ(cᵀ z)
 * Max pooling baseline: p = max_k σ(cᵀ h_k) (σ is monotonic, so this is σ of the max logit).
 */
import * as tf from '@tensorflow/tfjs';
import type { MilModelConfig } from './config.ts';

type Sym = tf.SymbolicTensor;

function dense(
  units: number,
  activation: 'relu' | 'tanh' | 'sigmoid' | 'linear',
  seed: number,
  name: string,
) {
  return tf.layers.dense({
    units,
    activation,
    name,
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    biasInitializer: 'zeros',
  });
}

export function buildMilModel(c: MilModelConfig): tf.LayersModel {
  const input = tf.input({ shape: [null, c.inputDim], name: 'instances' });
  let h = dense(c.hiddenDim, 'relu', c.seed, 'project').apply(input) as Sym;
  if (c.dropout > 0) h = tf.layers.dropout({ rate: c.dropout, name: 'instance_dropout' }).apply(h) as Sym;
  return c.kind === 'attention' ? attentionHead(input, h, c) : maxHead(input, h, c);
}

function attentionHead(input: Sym, h: Sym, c: MilModelConfig): tf.LayersModel {
  const v = dense(c.attentionDim, 'tanh', c.seed + 1, 'attention_v').apply(h) as Sym;
  const u = dense(c.attentionDim, 'sigmoid', c.seed + 2, 'attention_u').apply(h) as Sym;
  const gated = tf.layers.multiply({ name: 'attention_gate' }).apply([v, u]) as Sym;
  const logits = dense(1, 'linear', c.seed + 3, 'attention_w').apply(gated) as Sym; // [1, N, 1]
  // tfjs softmax works on the last axis only: move instances there, [1, 1, N].
  const row = tf.layers.permute({ dims: [2, 1], name: 'attention_row' }).apply(logits) as Sym;
  const weights = tf.layers.softmax({ axis: -1, name: 'attention' }).apply(row) as Sym;
  const pooled = tf.layers.dot({ axes: [2, 1], name: 'pool' }).apply([weights, h]) as Sym; // [1, 1, H]
  let z = tf.layers.reshape({ targetShape: [c.hiddenDim], name: 'bag' }).apply(pooled) as Sym;
  if (c.dropout > 0) z = tf.layers.dropout({ rate: c.dropout, name: 'bag_dropout' }).apply(z) as Sym;
  const prob = dense(1, 'sigmoid', c.seed + 4, 'classifier').apply(z) as Sym;
  return tf.model({ inputs: input, outputs: [prob, weights], name: 'attention_mil' });
}

function maxHead(input: Sym, h: Sym, c: MilModelConfig): tf.LayersModel {
  const logits = dense(1, 'linear', c.seed + 4, 'classifier').apply(h) as Sym; // [1, N, 1]
  const maxLogit = tf.layers.globalMaxPooling1d({ name: 'max_pool' }).apply(logits) as Sym; // [1, 1]
  const prob = tf.layers.activation({ activation: 'sigmoid', name: 'bag_prob' }).apply(maxLogit) as Sym;
  const row = tf.layers.permute({ dims: [2, 1], name: 'instance_row' }).apply(logits) as Sym;
  const scores = tf.layers.activation({ activation: 'sigmoid', name: 'instance_prob' }).apply(row) as Sym;
  return tf.model({ inputs: input, outputs: [prob, scores], name: 'max_mil' });
}
