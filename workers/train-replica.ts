/**
 * This thread's replica of the patch classifier being trained (data-parallel training and scoring,
 * pipeline/train/data-parallel.ts): built once per thread and architecture in the thread's model cache,
 * then set to the weights each task carries, so the replica holds no state that could drift.
 */
import type * as tf from '@tensorflow/tfjs';
import { type BackendName, useBackend } from '../pipeline/models/backend.ts';
import { type ArchSpec, buildPatchClassifier } from '../pipeline/models/patch-classifier.ts';
import { writeFlat } from '../pipeline/train/shard-grads.ts';
import { cachedModel } from './model-cache.ts';

let backend: Promise<unknown> | undefined;

export async function trainReplica(task: {
  backend: BackendName;
  arch: ArchSpec;
  weights: Float32Array;
}): Promise<tf.LayersModel> {
  backend ??= useBackend(task.backend);
  await backend;
  const model = await cachedModel(`train-replica:${JSON.stringify(task.arch)}`, async () =>
    buildPatchClassifier(task.arch),
  );
  writeFlat(
    model.weights.map((w) => w.read() as tf.Variable),
    task.weights,
  );
  return model;
}
