/**
 * Saving and loading models as a directory: tfjs's own format (`model.json` + `weights.bin`, written
 * through a file IO handler of ours since tfjs-node's file:// handler is not installed) and a sidecar
 * `wsi-model.json` with what inference needs to know (input µm/px, patch size, normalisation,
 * geometry) and the training metadata (absent: the model is untrained and `wsi infer` refuses it).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { checkNormalisation, type Normalisation } from './normalise.ts';
import type { ArchSpec } from './patch-classifier.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const SIDECAR_JSON = 'wsi-model.json';

export interface TrainingMeta {
  /** ISO-8601 UTC time training finished. */
  finishedAt: string;
  /** Training samples seen (patches, images or bags). */
  samples: number;
  epochs?: number;
  steps?: number;
  /** What it was trained on (slides, data set, run id). */
  dataset?: string;
  backend?: string;
  /** Validation figures, e.g. { auc: 0.93 }. */
  metrics?: Record<string, number>;
  config?: Record<string, unknown>;
}

export interface ModelMeta {
  format: 1;
  name: string;
  /** 'patch-classifier' | 'density' | 'mil' | ... */
  kind: string;
  architecture?: ArchSpec;
  input: {
    /** µm per input pixel; null for models of images without a physical scale. */
    mpp: number | null;
    /** Side of one input patch in pixels (for a patch classifier: its receptive field). */
    patchSize: number;
    normalisation: Normalisation;
  };
  /** Receptive field and output stride in input pixels (fully convolutional models). */
  geometry?: { receptiveField: number; stride: number };
  /** Absent until the model was trained. */
  training?: TrainingMeta;
  createdAt: string;
}

function joinWeights(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/** Writes a tfjs Layers model as `dir`/model.json + weights.bin (created if needed), each file atomically. */
export async function saveLayersModel(dir: string, model: tf.LayersModel): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(joinWeights(artifacts.weightData));
      writeFileAtomic(path.join(dir, WEIGHTS_BIN), weights);
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Writes a sidecar (pretty JSON) into a model directory, atomically. */
export function writeSidecar(dir: string, name: string, value: unknown): void {
  writeFileAtomic(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/** A JSON file of a model directory; ModelError naming `what` when it is missing or not JSON. */
export function readModelJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ModelError(`${what} not found: ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelError(`${what} is not valid JSON: ${file}`);
  }
}

/** Writes model.json, weights.bin and the sidecar into `dir` (created if needed). */
export async function saveModel(dir: string, model: tf.LayersModel, meta: ModelMeta): Promise<void> {
  await saveLayersModel(dir, model);
  writeSidecar(dir, SIDECAR_JSON, meta);
}

/** Reads and checks the sidecar alone (cheap: no weights). */
export function readModelMeta(dir: string): ModelMeta {
  try {
    if (!statSync(dir).isDirectory()) throw new Error();
  } catch {
    throw new ModelError(`model directory not found: ${dir}`);
  }
  const meta = readModelJson(path.join(dir, SIDECAR_JSON), 'model sidecar') as Partial<ModelMeta>;
  if (meta.format !== 1 || typeof meta.name !== 'string' || typeof meta.kind !== 'string' || !meta.input) {
    throw new ModelError(`model sidecar ${path.join(dir, SIDECAR_JSON)} lacks format/name/kind/input`);
  }
  const { mpp, patchSize } = meta.input;
  if (mpp !== null && !(typeof mpp === 'number' && mpp > 0)) {
    throw new ModelError(`model sidecar: input.mpp must be a positive number or null`);
  }
  if (!(Number.isInteger(patchSize) && patchSize > 0)) {
    throw new ModelError(`model sidecar: input.patchSize must be a positive integer`);
  }
  checkNormalisation(meta.input.normalisation);
  return meta as ModelMeta;
}

/** Loads `dir`/model.json and its weights (as saveLayersModel writes them). */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const json = readModelJson(path.join(dir, MODEL_JSON), 'tfjs model.json') as tf.io.ModelJSON;
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ModelError(`${path.join(dir, MODEL_JSON)} is not a tfjs Layers model`);
  }
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => {
      try {
        const b = readFileSync(path.join(dir, p));
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      } catch {
        throw new ModelError(`model weights not found: ${path.join(dir, p)}`);
      }
    }),
  );
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: tf.io.concatenateArrayBuffers(buffers),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      }),
    );
  } catch (err) {
    throw new ModelError(`cannot load tfjs model from ${dir}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Loads the tfjs model and its sidecar from `dir`. */
export async function loadModel(dir: string): Promise<{ model: tf.LayersModel; meta: ModelMeta }> {
  const meta = readModelMeta(dir);
  return { model: await loadLayersModel(dir), meta };
}
