/**
 * Saving and loading MIL models in the tfjs format (model.json + weights.bin) with a sidecar mil.json
 * holding the training config, metrics and history, so a model directory explains itself.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import type { MilConfig } from './config.ts';
import type { EpochLog } from './train.ts';

export const MIL_SIDECAR = 'mil.json';
const FORMAT = 'wsi-mil/1';

export interface MilSidecar {
  format: typeof FORMAT;
  config: MilConfig;
  metrics: Record<string, unknown>;
  history: EpochLog[];
  /** Where the training embeddings came from (embed run, encoder model, layer), for provenance. */
  embedding: Record<string, unknown>;
  createdAt: string;
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export async function saveMilModel(
  dir: string,
  model: tf.LayersModel,
  sidecar: Omit<MilSidecar, 'format' | 'createdAt'>,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = Array.isArray(data)
        ? Buffer.concat(data.map((b) => new Uint8Array(b)))
        : new Uint8Array(data ?? new ArrayBuffer(0));
      writeAtomic(join(dir, 'weights.bin'), bytes);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const full: MilSidecar = { format: FORMAT, createdAt: new Date().toISOString(), ...sidecar };
  writeAtomic(join(dir, MIL_SIDECAR), `${JSON.stringify(full, null, 2)}\n`);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ModelError(`missing ${path}: not a MIL model directory`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelError(`${path} is not valid JSON`);
  }
}

export async function loadMilModel(dir: string): Promise<{ model: tf.LayersModel; sidecar: MilSidecar }> {
  const sidecar = readJson(join(dir, MIL_SIDECAR)) as MilSidecar;
  if (sidecar?.format !== FORMAT || !sidecar.config) {
    throw new ModelError(`${join(dir, MIL_SIDECAR)} is not a ${FORMAT} sidecar`);
  }
  const json = readJson(join(dir, 'model.json')) as {
    modelTopology?: object;
    weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  if (!json.modelTopology || !json.weightsManifest?.length) {
    throw new ModelError(`${join(dir, 'model.json')} has no model topology or weights manifest`);
  }
  let weightData: Buffer;
  try {
    weightData = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  } catch {
    throw new ModelError(`missing weights file in ${dir}`);
  }
  try {
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: weightData.buffer.slice(
          weightData.byteOffset,
          weightData.byteOffset + weightData.byteLength,
        ),
      }),
    );
    return { model, sidecar };
  } catch (err) {
    throw new ModelError(`cannot load the MIL model in ${dir}: ${(err as Error).message.split('\n')[0]}`);
  }
}
