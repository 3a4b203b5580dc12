/**
 * Worker task for data-parallel training (pipeline/train/data-parallel.ts): sets this thread's copy of
 * the patch classifier to the broadcast weights, computes the gradient of its shard of the batch and
 * returns it with the per-sample losses and the batch-norm moving statistics its forward pass updated.
 * Self-contained: the model is built once per thread and architecture, then only its weights change.
 */
import type * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { buildPatchClassifier } from '../pipeline/models/patch-classifier.ts';
import type { TrainGradsResult, TrainGradsTask } from '../pipeline/tasks.ts';
import { readFlat, shardGradients, writeFlat } from '../pipeline/train/shard-grads.ts';

let backend: Promise<unknown> | undefined;
const models = new Map<string, tf.LayersModel>();

export async function run(task: TrainGradsTask): Promise<TrainGradsResult> {
  backend ??= useBackend(task.backend);
  await backend;
  const key = JSON.stringify(task.arch);
  let model = models.get(key);
  if (!model) {
    model = buildPatchClassifier(task.arch);
    models.set(key, model);
  }
  writeFlat(
    model.weights.map((w) => w.read() as tf.Variable),
    task.weights,
  );
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const r = shardGradients(model, vars, task.x, task.y, task.patchSize, task.batchTotal);
  const grads = readFlat(r.grads);
  for (const g of r.grads) g.dispose();
  const state = readFlat(model.nonTrainableWeights.map((w) => w.read()));
  return { loss: r.loss, perSample: r.perSample, grads, state };
}
