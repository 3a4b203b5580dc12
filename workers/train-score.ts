/**
 * Worker task for data-parallel scoring during training (the sampler's refresh subset and the
 * validation patches, pipeline/train/data-parallel.ts): one chunk of patches scored by this thread's
 * replica set to the model's current weights, exactly as scorePatches scores it on the main thread.
 */
import type { TrainScoreResult, TrainScoreTask } from '../pipeline/tasks.ts';
import { scorePatches } from '../pipeline/train/score.ts';
import { trainReplica } from './train-replica.ts';

export async function run(task: TrainScoreTask): Promise<TrainScoreResult> {
  const model = await trainReplica(task);
  const n = task.pixels.length / (task.patchSize * task.patchSize * 3);
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  const scores = scorePatches(model, { patchSize: task.patchSize, pixels: task.pixels }, all, task.norm, n);
  return { scores };
}
