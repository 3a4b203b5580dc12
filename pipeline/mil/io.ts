/**
 * Saving and loading MIL models in the tfjs format (model.json + weights.bin) with a sidecar mil.json
 * holding the training config, metrics and history, so a model directory explains itself.
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { loadLayersModel, readModelJson, saveLayersModel, writeSidecar } from '../models/model-io.ts';
import type { OodReference } from '../ood/verdict.ts';
import type { MilConfig } from './config.ts';
import type { EpochLog } from './train.ts';

const MIL_SIDECAR = 'mil.json';
const FORMAT = 'wsi-mil/1';

export interface MilSidecar {
  format: typeof FORMAT;
  config: MilConfig;
  metrics: Record<string, unknown>;
  history: EpochLog[];
  /** Where the training embeddings came from (embed run, encoder model, layer), for provenance. */
  embedding: Record<string, unknown>;
  /**
   * Statistics of the slides it was trained on (training and validation bags), for out-of-distribution
   * verdicts at inference (pipeline/ood); absent when none of their files could be read.
   */
  ood?: OodReference;
  createdAt: string;
}

export async function saveMilModel(
  dir: string,
  model: tf.LayersModel,
  sidecar: Omit<MilSidecar, 'format' | 'createdAt'>,
): Promise<void> {
  await saveLayersModel(dir, model);
  const full: MilSidecar = { format: FORMAT, createdAt: new Date().toISOString(), ...sidecar };
  writeSidecar(dir, MIL_SIDECAR, full);
}

export async function loadMilModel(dir: string): Promise<{ model: tf.LayersModel; sidecar: MilSidecar }> {
  const sidecar = readModelJson(join(dir, MIL_SIDECAR), 'MIL model sidecar') as MilSidecar;
  if (sidecar?.format !== FORMAT || !sidecar.config) {
    throw new ModelError(`${join(dir, MIL_SIDECAR)} is not a ${FORMAT} sidecar`);
  }
  return { model: await loadLayersModel(dir), sidecar };
}
