/**
 * Worker task: read a batch of same-sized patch windows from one slide and embed them with an encoder
 * (a trained patch classifier cut at a layer). Slides and encoders stay open between tasks of this
 * thread (a slide LRU of 2, one encoder per model/layer). Returns the
 * embeddings ([windows × dim] float32) as a transferred buffer.
 */
import threads from 'node:worker_threads';
import { Piscina } from 'piscina';
import { createPatchEncoder, type PatchEncoder } from '../pipeline/mil/encoder.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { loadModel } from '../pipeline/models/model-io.ts';
import type { RGBImage, Slide } from '../pipeline/slide/types.ts';

export interface EmbedTask {
  slidePath: string;
  modelDir: string;
  layer: string;
  /** Read at a µm/px ('mpp') or at a pyramid level ('level'); `size` output pixels square. */
  mode: 'mpp' | 'level';
  mpp: number;
  level: number;
  size: number;
  /** Flat [x0, y0, x1, y1, ...] level-0 top-left corners of the windows. */
  origins: number[];
}

/**
 * geotiff depends on `web-worker`, whose Node build, when imported off the main thread, reads
 * `workerData.mod` and throws when Piscina left workerData undefined. An empty object makes it behave
 * as on the main thread. Set before the slide reader is first imported (dynamically, below).
 */
function prepareThreadForSlideReader(): void {
  if (threads.workerData == null) (threads as { workerData: unknown }).workerData = {};
}

async function openSlide(path: string): Promise<Slide> {
  prepareThreadForSlideReader();
  const reader = await import('../pipeline/slide/index.ts');
  return reader.openSlide(path);
}

const slides = new Map<string, Promise<Slide>>();
const encoders = new Map<string, Promise<PatchEncoder>>();

async function slideFor(path: string): Promise<Slide> {
  let s = slides.get(path);
  if (!s) {
    s = openSlide(path);
    slides.set(path, s);
    if (slides.size > 2) {
      const [oldest] = slides.keys();
      const old = slides.get(oldest);
      slides.delete(oldest);
      void old?.then((o) => o.close()).catch(() => {});
    }
  }
  return s;
}

async function encoderFor(modelDir: string, layer: string): Promise<PatchEncoder> {
  const key = `${modelDir}\n${layer}`;
  let e = encoders.get(key);
  if (!e) {
    e = (async () => {
      await initBackend({ log: () => {} });
      const { model, meta } = await loadModel(modelDir);
      return createPatchEncoder(model, meta, layer);
    })();
    encoders.set(key, e);
    e.catch(() => encoders.delete(key));
  }
  return e;
}

export async function run(task: EmbedTask): Promise<unknown> {
  const [slide, encoder] = await Promise.all([
    slideFor(task.slidePath),
    encoderFor(task.modelDir, task.layer),
  ]);
  const images: RGBImage[] = [];
  for (let i = 0; i < task.origins.length; i += 2) {
    const r = { x: task.origins[i], y: task.origins[i + 1], width: task.size, height: task.size };
    images.push(
      task.mode === 'mpp'
        ? await slide.readAt({ ...r, mpp: task.mpp })
        : await slide.readRegion({ ...r, level: task.level }),
    );
  }
  // [n × dim] float32, transferred (the caller knows n, so dim = length / n).
  return Piscina.move(await encoder.embed(images));
}
