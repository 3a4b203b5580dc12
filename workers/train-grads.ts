/**
 * Worker task for data-parallel training (pipeline/train/data-parallel.ts): sets this thread's replica
 * of the patch classifier to the broadcast weights, augments its shard of the batch (when it comes raw),
 * computes the shard's gradient and returns it with the per-sample losses and the batch-norm moving
 * statistics its forward pass updated.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TrainGradsResult, TrainGradsTask } from '../pipeline/tasks.ts';
import { batchFloats, readFlat, shardGradients } from '../pipeline/train/shard-grads.ts';
import { trainReplica } from './train-replica.ts';

export async function run(task: TrainGradsTask): Promise<TrainGradsResult> {
  const model = await trainReplica(task);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = batchFloats(task.input, task.y.length, task.patchSize);
  const r = shardGradients(model, vars, x, task.y, task.patchSize, task.batchTotal);
  const grads = readFlat(r.grads);
  for (const g of r.grads) g.dispose();
  const state = readFlat(model.nonTrainableWeights.map((w) => w.read()));
  return { loss: r.loss, perSample: r.perSample, grads, state };
}
