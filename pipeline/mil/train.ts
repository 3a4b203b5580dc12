/**
 * Training a MIL model from slide labels alone. Each optimiser step averages the class-weighted binary
 * cross-entropy of `bagsPerStep` bags, each subsampled to at most `maxInstances` instances (a fresh random
 * subset every time it is seen, which also augments), plus an L2 penalty on the kernels. After each epoch
 * the whole validation bags are scored; after `warmupEpochs`, the weights with the best validation AUC
 * (ties: lower loss) are kept, and training stops after `patience` epochs without improvement.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { rocAuc } from '../eval/auc.ts';
import { createRng, type Rng } from '../util/rng.ts';
import { type Bag, gatherRows, predictBag } from './bag.ts';
import { type MilConfig, resolveMilConfig } from './config.ts';
import { buildMilModel } from './model.ts';

export interface EpochLog {
  epoch: number;
  /** Mean weighted training loss over the epoch's steps (without the L2 term). */
  loss: number;
  valLoss?: number;
  valAuc?: number;
}

export interface MilTrainResult {
  model: tf.LayersModel;
  config: MilConfig;
  history: EpochLog[];
  /** Epoch whose weights were kept (1-based). */
  bestEpoch: number;
  metrics: {
    trainBags: number;
    valBags: number;
    epochsRun: number;
    stoppedEarly: boolean;
    valAuc?: number;
    valLoss?: number;
    finalLoss: number;
  };
}

export interface TrainHooks {
  onEpoch?(log: EpochLog): void;
}

const EPS = 1e-7;

function checkBags(bags: Bag[], what: string): number {
  if (bags.length === 0) throw new ConfigError(`no ${what} bags`);
  const dim = bags[0].dim;
  for (const b of bags) {
    if (b.label !== 0 && b.label !== 1) throw new ConfigError(`${what} bag ${b.id} has no 0/1 label`);
    if (b.dim !== dim)
      throw new ConfigError(`${what} bag ${b.id} has embeddings of length ${b.dim}, others ${dim}`);
  }
  return dim;
}

function classWeights(bags: Bag[], mode: MilConfig['classWeights']): [number, number] {
  const pos = bags.filter((b) => b.label === 1).length;
  const neg = bags.length - pos;
  if (pos === 0 || neg === 0) {
    throw new ConfigError(`training needs both classes; got ${pos} positive and ${neg} negative slides`);
  }
  if (mode === 'none') return [1, 1];
  return [bags.length / (2 * neg), bags.length / (2 * pos)];
}

function shuffled(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** At most `cap` distinct instance indices of the bag, in random order. */
function sampleInstances(bag: Bag, cap: number, rng: Rng): Float32Array {
  if (bag.size <= cap) return bag.embeddings;
  return gatherRows(bag, shuffled(bag.size, rng).slice(0, cap));
}

function bce(p: tf.Tensor, label: 0 | 1): tf.Scalar {
  const q = tf.clipByValue(p, EPS, 1 - EPS);
  return (label === 1 ? tf.neg(tf.log(q)) : tf.neg(tf.log1p(tf.neg(q)))).sum() as tf.Scalar;
}

/** Scores whole bags; returns probabilities and the class-weighted mean loss. */
async function evaluate(
  model: tf.LayersModel,
  bags: Bag[],
  weights: [number, number],
): Promise<{ probs: number[]; loss: number }> {
  const probs: number[] = [];
  let loss = 0;
  let norm = 0;
  for (const b of bags) {
    const { probability } = await predictBag(model, b);
    probs.push(probability);
    const p = Math.min(1 - EPS, Math.max(EPS, probability));
    const w = weights[b.label as 0 | 1];
    loss += w * -(b.label === 1 ? Math.log(p) : Math.log(1 - p));
    norm += w;
  }
  return { probs, loss: loss / norm };
}

export async function trainMil(
  train: Bag[],
  val: Bag[] | undefined,
  options: Partial<MilConfig> = {},
  hooks: TrainHooks = {},
): Promise<MilTrainResult> {
  const inputDim = checkBags(train, 'training');
  if (val?.length) {
    const valDim = checkBags(val, 'validation');
    if (valDim !== inputDim)
      throw new ConfigError(`validation embeddings have length ${valDim}, training ${inputDim}`);
  }
  const config = resolveMilConfig({ ...options, inputDim });
  const cw = classWeights(train, config.classWeights);
  const valUsable = Boolean(val?.some((b) => b.label === 1) && val?.some((b) => b.label === 0));
  const rng = createRng(config.seed);
  const model = buildMilModel(config);
  const optimizer = tf.train.adam(config.learningRate);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const kernels = model.trainableWeights.filter((w) => w.name.includes('kernel')).map((w) => w.read());

  const history: EpochLog[] = [];
  let best: { epoch: number; auc: number; loss: number; weights: tf.Tensor[] } | undefined;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const order = shuffled(train.length, rng);
      let lossSum = 0;
      let steps = 0;
      for (let s = 0; s < order.length; s += config.bagsPerStep) {
        const batch = order.slice(s, s + config.bagsPerStep).map((i) => train[i]);
        const inputs = batch.map((b) => sampleInstances(b, config.maxInstances, rng));
        const cost = optimizer.minimize(
          () =>
            tf.tidy(() => {
              let total = tf.scalar(0);
              let norm = 0;
              batch.forEach((b, k) => {
                const x = tf.tensor3d(inputs[k], [1, inputs[k].length / inputDim, inputDim]);
                const [p] = model.apply(x, { training: true }) as tf.Tensor[];
                const w = cw[b.label as 0 | 1];
                total = total.add(bce(p, b.label as 0 | 1).mul(w));
                norm += w;
              });
              const dataLoss = total.div(norm);
              const l2 = kernels.reduce((acc, k) => acc.add(tf.sum(tf.square(k))), tf.scalar(0));
              // Report the data term; optimise data + decay.
              return dataLoss.add(l2.mul(config.weightDecay)) as tf.Scalar;
            }),
          true,
          vars,
        );
        lossSum += cost ? (await cost.data())[0] : 0;
        cost?.dispose();
        steps++;
      }
      const log: EpochLog = { epoch, loss: lossSum / steps };
      if (valUsable && val) {
        const { probs, loss } = await evaluate(model, val, cw);
        log.valLoss = loss;
        log.valAuc = rocAuc(
          probs,
          val.map((b) => b.label as number),
        );
        // Selection starts after the warm-up (the last epoch always qualifies, so short runs keep something).
        const eligible = epoch > Math.min(config.warmupEpochs, config.epochs - 1);
        const better = !best || log.valAuc > best.auc || (log.valAuc === best.auc && loss < best.loss);
        if (eligible && better) {
          for (const t of best?.weights ?? []) t.dispose();
          best = { epoch, auc: log.valAuc, loss, weights: model.getWeights().map((t) => t.clone()) };
        }
      }
      history.push(log);
      hooks.onEpoch?.(log);
      if (best && config.patience > 0 && epoch - best.epoch >= config.patience) {
        stoppedEarly = epoch < config.epochs;
        break;
      }
    }
    if (best) model.setWeights(best.weights);
  } finally {
    for (const t of best?.weights ?? []) t.dispose();
    optimizer.dispose();
  }
  const kept = history[(best?.epoch ?? history.length) - 1];
  return {
    model,
    config,
    history,
    bestEpoch: kept.epoch,
    metrics: {
      trainBags: train.length,
      valBags: val?.length ?? 0,
      epochsRun: history.length,
      stoppedEarly,
      valAuc: kept.valAuc,
      valLoss: kept.valLoss,
      finalLoss: history[history.length - 1].loss,
    },
  };
}
