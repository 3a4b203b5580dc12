/**
 * The task map: every kind of work a worker does, with its payload and result types, in one place.
 * Workers (`workers/<kind>.ts`) import their payload types from here; stages and the executor are
 * type-checked against it. Payloads are plain JSON (a queue can store them); results are typed arrays
 * (transferred back from a thread, or serialised by a queue).
 */
import type { CountFieldTask } from './counting/count-field.ts';
import type { CountImageTask } from './counting/count-image.ts';
import type { FieldResultMessage } from './counting/field-rows.ts';
import type { TileCountTask } from './counting/tile-count.ts';
import type { BackendName } from './models/backend.ts';
import type { FcnTile, ReadScale } from './models/fcn-plan.ts';
import type { Normalisation } from './models/normalise.ts';
import type { ArchSpec } from './models/patch-classifier.ts';
import type { PatchResolution } from './patches/types.ts';
import type { LevelRegion } from './slide/types.ts';
import type { StainPair } from './stain/apply.ts';
import type { BatchInput } from './train/shard-grads.ts';

export type { CountFieldTask, CountImageTask, FieldResultMessage, TileCountTask };

/** Read a batch of patches of one slide; write each as PNG/JPEG when a file is given. */
export interface PatchExtractPayload {
  slidePath: string;
  assumeMpp?: number;
  size: number;
  resolution: PatchResolution;
  /** Level-0 origins and the file each patch goes to (none: statistics only). */
  patches: Array<{ x: number; y: number; file?: string }>;
  format: 'png' | 'jpeg';
  quality?: number;
}

/** The pixels of a batch of patches of one slide, back to back. */
export interface PatchPixelsPayload {
  slidePath: string;
  assumeMpp?: number;
  size: number;
  resolution: PatchResolution;
  patches: Array<{ x: number; y: number }>;
}

/** A batch of level regions of one slide, back to back. */
export interface ReadRegionPayload {
  slidePath: string;
  regions: LevelRegion[];
  /** Decoded-tile cache per worker, bytes (default: this worker's share of the reader's default). */
  cacheBytes?: number;
  /** A buffer to fill instead of allocating one (transfer it in; it comes back as the result). */
  into?: Uint8Array;
}

/** Score one FCN tile with onnxruntime. */
export interface InferTilePayload {
  slidePath: string;
  /** Level-0 µm/px for slides that do not record it (a slide's own value wins). */
  assumeMpp?: number;
  onnxPath: string;
  threads: number;
  normalisation: Normalisation;
  scale: ReadScale;
  tile: FcnTile;
  /** The slide's stain and the model's target, for models trained with --stain-norm. */
  stain?: StainPair;
}

/** Embed a batch of same-sized patch windows of one slide with an encoder (a classifier cut at a layer). */
export interface EmbedPatchesPayload {
  slidePath: string;
  modelDir: string;
  /** Content hash of the model folder: a worker's cached encoder is reused only for the same content. */
  modelHash?: string;
  layer: string;
  /** Read at a µm/px ('mpp') or at a pyramid level ('level'); `size` output pixels square. */
  mode: 'mpp' | 'level';
  mpp: number;
  level: number;
  size: number;
  /** Flat [x0, y0, x1, y1, ...] level-0 top-left corners of the windows. */
  origins: number[];
  /** The slide's stain and the model's target, for models trained with --stain-norm. */
  stain?: StainPair;
}

/** One shard of a data-parallel training step (pipeline/train/data-parallel.ts). */
export interface TrainGradsTask {
  backend: BackendName;
  arch: ArchSpec;
  /** All model weights (trainable and not, in model.weights order). */
  weights: Float32Array;
  /** This shard's samples (raw patches are augmented by the worker). */
  input: BatchInput;
  y: Float32Array;
  patchSize: number;
  batchTotal: number;
}

export interface TrainGradsResult {
  loss: number;
  perSample: Float32Array;
  /** Trainable-weight gradients, concatenated in model.trainableWeights order. */
  grads: Float32Array;
  /** Non-trainable weights (batch-norm moving mean/variance) after this shard's forward pass. */
  state: Float32Array;
}

/** Scores of one chunk of patches on the training model's current weights (data-parallel scoring). */
export interface TrainScoreTask {
  backend: BackendName;
  arch: ArchSpec;
  /** All model weights (trainable and not, in model.weights order). */
  weights: Float32Array;
  /** The chunk's patches, RGB, patchSize² × 3 bytes each. */
  pixels: Uint8Array;
  norm: Normalisation;
  patchSize: number;
}

export interface TrainScoreResult {
  scores: Float32Array;
}

/** Detect the tissue of one slide: mask statistics and outline polygons. */
export interface TissueDetectPayload {
  slidePath: string;
  assumeMpp?: number;
  targetMpp?: number;
}

/** Tissue of one slide: fraction of the slide, area, and outlines in level-0 pixels (JSON text). */
export interface TissueDetectResult {
  fraction: number;
  areaMm2: number | null;
  pieces: number;
  /** GeoJSON FeatureCollection (QuPath) of the outlines, level-0 pixels. */
  geojson: string;
}

export interface TaskMap {
  echo: { payload: { values: number[] }; result: Float64Array };
  'patch-extract': { payload: PatchExtractPayload; result: Float64Array };
  'patch-pixels': { payload: PatchPixelsPayload; result: Uint8Array };
  'read-region': { payload: ReadRegionPayload; result: Uint8Array };
  'infer-tile': { payload: InferTilePayload; result: Float32Array };
  'embed-patches': { payload: EmbedPatchesPayload; result: Float32Array };
  'count-image': { payload: CountImageTask; result: Float64Array };
  'count-tile': { payload: TileCountTask; result: Float32Array };
  'count-field': { payload: CountFieldTask; result: FieldResultMessage };
  'tissue-detect': { payload: TissueDetectPayload; result: TissueDetectResult };
  'train-grads': { payload: TrainGradsTask; result: TrainGradsResult };
  'train-score': { payload: TrainScoreTask; result: TrainScoreResult };
}

export type TaskKind = keyof TaskMap;
export type TaskPayload<K extends TaskKind> = TaskMap[K]['payload'];
export type TaskResult<K extends TaskKind> = TaskMap[K]['result'];

export interface TaskOptions {
  /** Deterministic id (run, slide, chunk): a queue adding a job whose id exists does nothing. */
  jobId?: string;
  /** Buffers moved, not copied, into the worker. */
  transfer?: ArrayBuffer[];
}

/**
 * Where tasks run: the local Piscina pool (pool.ts), the main thread (for engines that cannot leave it),
 * or a queue across machines. Stages only see this.
 */
export interface TaskExecutor {
  /** Tasks it runs at once (sets how many a stage keeps in flight). */
  readonly size: number;
  run<K extends TaskKind>(kind: K, payload: TaskPayload<K>, opts?: TaskOptions): Promise<TaskResult<K>>;
  close(): Promise<void>;
}

/** A worker task file's shape: `workers/<kind>.ts` exports `run`. */
export type TaskHandler<K extends TaskKind> = (payload: TaskPayload<K>) => Promise<unknown> | unknown;
