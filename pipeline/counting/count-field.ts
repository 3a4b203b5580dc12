/**
 * One plate field (or any image) → count, cells, the counter used and QC measures. Worker task
 * `count-field`; the counter is chosen per image when the method is auto (auto-method.ts).
 */
import { ConfigError } from '../errors.ts';
import {
  type CountMethod,
  densityModelId,
  type ImageKind,
  imageKind,
  methodFor,
  type UsedMethod,
} from './auto-method.ts';
import { selectChannel } from './channel.ts';
import { fileLayout, readChannel } from './channels.ts';
import { type CellArrays, toArrays } from './count-image.ts';
import { countDensity, type DensityModelInfo } from './density-counter.ts';
import { countHe, DEFAULT_HE_MODEL, loadHeModel } from './he-counter.ts';
import { readImage } from './image-io.ts';
import { type FieldMeasures, measureField } from './qc.ts';
import type { CountResult, GrayImage, PixelImage } from './types.ts';
import {
  countWatershed,
  segmentChannel,
  WATERSHED_PRESETS,
  type WatershedPreset,
} from './watershed-counter.ts';

export interface CountFieldTask {
  path: string;
  /** 0-based channel inside the file; undefined: the image as it is. */
  channelInFile?: number;
  method: CountMethod;
  /** Density model folder (density, and auto on fluorescence colour images). */
  modelDir?: string;
  /** H&E counter file (he-watershed, and auto on brightfield). */
  heModel?: string;
  preset?: WatershedPreset;
}

export interface FieldResult {
  cells: CellArrays;
  kind: ImageKind;
  method: UsedMethod;
  modelId: string;
  measures: FieldMeasures;
}

/** A grey channel as the colour image the density model expects: VGG's nuclei are in blue. */
function asBlue(g: GrayImage): PixelImage {
  const n = g.width * g.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) data[i * 3 + 2] = Math.round(Math.min(1, Math.max(0, g.data[i])) * 255);
  return { data, width: g.width, height: g.height, channels: 3 };
}

export async function countField(
  task: CountFieldTask,
  loadModel: (dir: string) => Promise<DensityModelInfo>,
): Promise<FieldResult> {
  let rgb: PixelImage | undefined;
  let gray: GrayImage;
  let kind: ImageKind;
  if (task.channelInFile === undefined && (await fileLayout(task.path)).rgb) {
    rgb = await readImage(task.path);
    kind = imageKind(rgb);
    // QC measures: the stain channel of a fluorescence image (saturation is per channel), else luminance.
    gray = selectChannel(rgb, kind === 'fluorescence' ? 'brightest' : 'grey');
  } else {
    gray = await readChannel(task.path, task.channelInFile ?? 0);
    kind = 'channel';
  }
  const method = methodFor(kind, task.method);
  const measures = measureField(gray, kind !== 'brightfield');
  let r: CountResult;
  let modelId: string;
  switch (method) {
    case 'he-watershed': {
      const m = loadHeModel(task.heModel ?? DEFAULT_HE_MODEL);
      if (!rgb) throw new ConfigError(`${task.path}: the H&E counter needs a colour image, not one channel`);
      r = countHe(m, rgb);
      modelId = m.id;
      break;
    }
    case 'density': {
      if (!task.modelDir) throw new ConfigError('density counting needs a model directory (--model DIR)');
      const m = await loadModel(task.modelDir);
      r = countDensity(m, rgb ?? asBlue(gray));
      modelId = densityModelId(task.modelDir);
      break;
    }
    default: {
      // One channel: nuclei are bright, so the fluorescence preset unless another is asked for.
      const preset = task.preset ?? 'auto';
      if (rgb) {
        const p = preset === 'auto' ? (kind === 'fluorescence' ? 'fluorescence' : 'brightfield') : preset;
        r = countWatershed(rgb, {}, p);
        modelId = `watershed:${p}`;
      } else {
        const p = preset === 'auto' ? 'fluorescence' : preset;
        r = segmentChannel(gray, WATERSHED_PRESETS[p]);
        modelId = `watershed:${p}`;
      }
    }
  }
  return { cells: toArrays(r, gray.width, gray.height), kind, method, modelId, measures };
}
