/**
 * Saliency of a run's patch classifier on one stored patch, on demand, for the attention gallery: the
 * gradient map and the Grad-CAM map (pipeline/models/saliency.ts) each laid over the patch as the model
 * saw it (pipeline/models/saliency-image.ts). The classifier is found through the store
 * (patchClassifierOfRun: the run's model, or its parent run's), never from a guessed path.
 *
 * Bounded: at most `maxModels` models loaded (least recently used disposed once no request holds it),
 * rendered PNGs in a byte-bounded LRU, one stain estimate per (model, slide) for models trained with
 * --stain-norm in a small LRU, and every computation runs under the tile semaphore (fair per client).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { modelStainFor, patchSaliency } from '../../pipeline/mil/saliency-gallery.ts';
import { initBackend } from '../../pipeline/models/backend.ts';
import { loadModel, type ModelMeta, readModelMeta, SIDECAR_JSON } from '../../pipeline/models/model-io.ts';
import { overlay } from '../../pipeline/models/saliency-image.ts';
import { createByteLru } from '../../pipeline/slide/cache.ts';
import type { Slide } from '../../pipeline/slide/types.ts';
import type { StainPair } from '../../pipeline/stain/apply.ts';
import type { Store } from '../../pipeline/store/db.ts';
import { patchClassifierOfRun } from '../../pipeline/store/viewer-queries.ts';
import { HttpError } from './http.ts';
import type { Semaphore } from './semaphore.ts';

export type SaliencyMap = 'gradient' | 'gradcam';

export interface SaliencyImage {
  png: Buffer;
  /** The classifier's probability for the patch as read here. */
  score: number;
  byteLength: number;
}

export interface SaliencyService {
  /** True when the run has a patch classifier in the store whose folder is still readable. */
  available(runId: number): boolean;
  render(
    runId: number,
    slideId: string,
    slide: () => Promise<Slide>,
    patch: { x: number; y: number; width: number; height: number },
    map: SaliencyMap,
    size: number,
    client?: string,
  ): Promise<SaliencyImage>;
  readonly cachedBytes: number;
  close(): void;
}

interface LoadedModel {
  key: string;
  ready: Promise<{ model: tf.LayersModel; meta: ModelMeta }>;
  users: number;
  evicted: boolean;
}

export interface SaliencyOptions {
  store: Store;
  semaphore: Semaphore;
  maxModels?: number;
  cacheBytes?: number;
}

export function createSaliencyService(o: SaliencyOptions): SaliencyService {
  const maxModels = o.maxModels ?? 2;
  const images = createByteLru<SaliencyImage>(o.cacheBytes ?? 16 * 1024 * 1024);
  const pending = new Map<string, Promise<SaliencyImage>>();
  const models = new Map<string, LoadedModel>();
  const stains = new Map<string, Promise<StainPair | undefined>>();

  /** The run's classifier folder and a key that changes when it is retrained in place. */
  function classifierOf(runId: number): { dir: string; key: string } | undefined {
    const m = patchClassifierOfRun(o.store, runId);
    if (!m || !existsSync(join(m.path, SIDECAR_JSON))) return undefined;
    try {
      if (readModelMeta(m.path).kind !== 'patch-classifier') return undefined;
      return { dir: m.path, key: `${m.path}@${statSync(join(m.path, SIDECAR_JSON)).mtimeMs}` };
    } catch {
      return undefined; // an unreadable sidecar: no saliency for this run
    }
  }

  function dispose(entry: LoadedModel): void {
    entry.ready.then((m) => m.model.dispose()).catch(() => undefined);
  }

  /** Takes a use of the model (loading it if needed); release with `release`. */
  function acquire(dir: string, key: string): LoadedModel {
    let entry = models.get(key);
    if (entry) {
      models.delete(key);
      models.set(key, entry);
    } else {
      entry = {
        key,
        ready: initBackend({ log: () => undefined }).then(() => loadModel(dir)),
        users: 0,
        evicted: false,
      };
      models.set(key, entry);
      entry.ready.catch(() => models.get(key) === entry && models.delete(key));
      for (const [k, old] of models) {
        if (models.size <= maxModels) break;
        models.delete(k);
        old.evicted = true;
        if (old.users === 0) dispose(old);
      }
    }
    entry.users++;
    return entry;
  }

  function release(entry: LoadedModel): void {
    entry.users--;
    if (entry.evicted && entry.users === 0) dispose(entry);
  }

  async function compute(
    c: { dir: string; key: string },
    slideId: string,
    open: () => Promise<Slide>,
    patch: { x: number; y: number; width: number; height: number },
  ): Promise<{ gradient: Uint8Array; gradcam: Uint8Array; size: number; score: number }> {
    const entry = acquire(c.dir, c.key);
    try {
      const { model, meta } = await entry.ready;
      const slide = await open();
      const stainKey = `${c.key}|${slideId}`;
      let stain = stains.get(stainKey);
      if (!stain) {
        stain = modelStainFor(meta, slide);
        stains.set(stainKey, stain);
        stain.catch(() => stains.delete(stainKey));
        if (stains.size > 64) stains.delete(stains.keys().next().value as string);
      }
      const { rgb, maps } = await patchSaliency(model, meta, slide, await stain, patch);
      return {
        gradient: overlay(rgb, maps.gradient, maps.size),
        gradcam: overlay(rgb, maps.gradCam, maps.size),
        size: maps.size,
        score: maps.score,
      };
    } finally {
      release(entry);
    }
  }

  return {
    available: (runId) => classifierOf(runId) !== undefined,
    async render(runId, slideId, open, patch, map, size, client) {
      const c = classifierOf(runId);
      if (!c) throw new HttpError(404, 'this run has no patch classifier in the store');
      const base = `${c.key}|${slideId}|${patch.x},${patch.y},${patch.width},${patch.height}|${size}`;
      const key = `${base}|${map}`;
      const hit = images.get(key);
      if (hit) return hit;
      let p = pending.get(key);
      if (!p) {
        // One computation gives both maps: both PNGs go into the cache.
        const both = o.semaphore.run(async () => {
          const r = await compute(c, slideId, open, patch);
          const encode = async (rgb: Uint8Array): Promise<SaliencyImage> => {
            // Nearest neighbour: the model's pixels stay visible, as in the study report's strips.
            const png = await sharp(rgb, { raw: { width: r.size, height: r.size, channels: 3 } })
              .resize(size, size, { kernel: 'nearest' })
              .png()
              .toBuffer();
            return { png, score: r.score, byteLength: png.byteLength };
          };
          const out = { gradient: await encode(r.gradient), gradcam: await encode(r.gradcam) };
          images.set(`${base}|gradient`, out.gradient);
          images.set(`${base}|gradcam`, out.gradcam);
          return out;
        }, client);
        for (const m of ['gradient', 'gradcam'] as const) {
          const one = both.then((b) => b[m]);
          one.catch(() => undefined);
          pending.set(`${base}|${m}`, one);
          one.finally(() => pending.delete(`${base}|${m}`)).catch(() => undefined);
        }
        p = pending.get(key) as Promise<SaliencyImage>;
      }
      return p;
    },
    get cachedBytes() {
      return images.bytes;
    },
    close() {
      for (const entry of models.values()) {
        entry.evicted = true;
        if (entry.users === 0) dispose(entry);
      }
      models.clear();
      images.clear();
      stains.clear();
    },
  };
}
