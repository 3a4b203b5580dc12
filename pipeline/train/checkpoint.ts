/**
 * Training checkpoints: the model (tfjs format + sidecar, via pipeline/models/model-io.ts), the optimizer
 * moments (one float32 file) and a JSON state with the step, sampler state, augmentation RNG and the best
 * validation result so far. Everything `--resume` needs to continue exactly where it stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { loadModel, type ModelMeta, readModelJson, saveModel } from '../models/model-io.ts';
import type { SamplerState } from '../patches/samplers/types.ts';
import type { RngState } from '../util/rng.ts';
import type { AdamState } from './adam.ts';

const STATE_JSON = 'training-state.json';
const OPTIMIZER_BIN = 'optimizer.bin';

export interface TrainingState {
  step: number;
  sampler: SamplerState;
  augmentRng: RngState;
  best: { step: number; auc: number } | null;
  /** Hash of the training config: a checkpoint only resumes the same training. */
  configHash: string;
  runId?: number;
}

export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  meta: ModelMeta,
  adam: AdamState,
  state: TrainingState,
): Promise<void> {
  await saveModel(dir, model, meta);
  const total = adam.moments.reduce((s, m) => s + m.length, 0);
  const flat = new Float32Array(total);
  let o = 0;
  for (const m of adam.moments) {
    flat.set(m, o);
    o += m.length;
  }
  writeFileAtomic(join(dir, OPTIMIZER_BIN), new Uint8Array(flat.buffer));
  writeFileAtomic(
    join(dir, STATE_JSON),
    `${JSON.stringify({ ...state, optimizer: { step: adam.step, sizes: adam.moments.map((m) => m.length) } })}\n`,
  );
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, STATE_JSON)) && existsSync(join(dir, OPTIMIZER_BIN));
}

export async function loadCheckpoint(
  dir: string,
): Promise<{ model: tf.LayersModel; meta: ModelMeta; adam: AdamState; state: TrainingState }> {
  if (!hasCheckpoint(dir)) throw new ModelError(`no training checkpoint in ${dir}`);
  const raw = readModelJson(join(dir, STATE_JSON), 'training state') as TrainingState & {
    optimizer: { step: number; sizes: number[] };
  };
  if (!Array.isArray(raw?.optimizer?.sizes))
    throw new ModelError(`${join(dir, STATE_JSON)} has no optimizer sizes: not a checkpoint of ours`);
  const bytes = readFileSync(join(dir, OPTIMIZER_BIN));
  const flat = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const moments: Float32Array[] = [];
  let o = 0;
  for (const n of raw.optimizer.sizes) {
    moments.push(flat.slice(o, o + n));
    o += n;
  }
  if (o !== flat.length) throw new ModelError(`${join(dir, OPTIMIZER_BIN)} has the wrong size`);
  const { model, meta } = await loadModel(dir);
  const { optimizer: _ignored, ...state } = raw;
  return { model, meta, adam: { step: raw.optimizer.step, moments }, state };
}
