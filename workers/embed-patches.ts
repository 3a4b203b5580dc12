/**
 * Worker task: read a batch of same-sized patch windows from one slide and embed them with an encoder
 * (a trained patch classifier cut at a layer). Slides and encoders stay open between tasks of this
 * thread (a slide LRU of 2, one encoder per model/layer). Returns the
 * embeddings ([windows × dim] float32) as a transferred buffer.
 */
import { Piscina } from 'piscina';
import { createPatchEncoder, type PatchEncoder } from '../pipeline/mil/encoder.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { loadModel } from '../pipeline/models/model-io.ts';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import type { RGBImage } from '../pipeline/slide/types.ts';
import { applyStain } from '../pipeline/stain/apply.ts';
import type { EmbedPatchesPayload } from '../pipeline/tasks.ts';
import { cachedModel } from './model-cache.ts';

/** @deprecated the payload type lives in pipeline/tasks.ts */
export type EmbedTask = EmbedPatchesPayload;

// The reader installs geotiff's worker-thread shim itself (pipeline/slide/tiff/worker-threads-shim.ts).
const slides = createOpenSlideCache(2);
function encoderFor(modelDir: string, layer: string, hash = ''): Promise<PatchEncoder> {
  return cachedModel(`encoder\0${modelDir}\0${hash}\0${layer}`, async () => {
    await initBackend({ log: () => {} });
    const { model, meta } = await loadModel(modelDir);
    return createPatchEncoder(model, meta, layer);
  });
}

export async function run(task: EmbedPatchesPayload): Promise<unknown> {
  const [slide, encoder] = await Promise.all([
    slides.get(task.slidePath),
    encoderFor(task.modelDir, task.layer, task.modelHash),
  ]);
  const images: RGBImage[] = [];
  for (let i = 0; i < task.origins.length; i += 2) {
    const r = { x: task.origins[i], y: task.origins[i + 1], width: task.size, height: task.size };
    const img =
      task.mode === 'mpp'
        ? await slide.readAt({ ...r, mpp: task.mpp })
        : await slide.readRegion({ ...r, level: task.level });
    images.push(applyStain(img, task.stain));
  }
  // [n × dim] float32, transferred (the caller knows n, so dim = length / n).
  return Piscina.move(await encoder.embed(images));
}
