/**
 * Which counter counts an image. `--method auto` (the default) decides per image from its statistics:
 *   - a colour (RGB) image with a bright background is brightfield H&E → the shipped H&E counter
 *     (models/he-watershed, watershed with learned parameters);
 *   - a colour image with a dark background is fluorescence → the shipped density model
 *     (models/density-vgg, trained on VGG fluorescence cells);
 *   - one channel of a plate (grey, 8 or 16 bit: a nuclear stain) → the watershed counter with the
 *     fluorescence preset, because the density model was trained on 8-bit colour VGG images and its
 *     input normalisation and cell size are theirs, not those of an arbitrary 16-bit channel.
 * The background test is channel.ts's looksFluorescent (mean over channels below 0.35 of full scale).
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { looksFluorescent } from './channel.ts';
import { shortHash } from './he-counter.ts';
import type { PixelImage } from './types.ts';

export type CountMethod = 'auto' | 'watershed' | 'density' | 'he-watershed';
export const COUNT_METHODS: readonly CountMethod[] = ['auto', 'watershed', 'density', 'he-watershed'];
/** The counter that actually ran on an image. */
export type UsedMethod = Exclude<CountMethod, 'auto'>;

export function parseCountMethod(v: string | undefined): CountMethod {
  const m = (v ?? 'auto') as CountMethod;
  if (!COUNT_METHODS.includes(m)) {
    throw new ConfigError(`--method must be ${COUNT_METHODS.join(', ')}, got '${v}'`);
  }
  return m;
}

export type ImageKind = 'brightfield' | 'fluorescence' | 'channel';

export function imageKind(img: PixelImage): ImageKind {
  if (img.channels < 3) return 'channel';
  return looksFluorescent(img) ? 'fluorescence' : 'brightfield';
}

export function methodFor(kind: ImageKind, requested: CountMethod): UsedMethod {
  if (requested !== 'auto') return requested;
  if (kind === 'brightfield') return 'he-watershed';
  if (kind === 'fluorescence') return 'density';
  return 'watershed';
}

const densityIds = new Map<string, string>();

/** `density-vgg@1a2b3c4d`: the model folder's name and a hash of its sidecar (weights change → sidecar changes). */
export function densityModelId(dir: string): string {
  let id = densityIds.get(dir);
  if (!id) {
    let sidecar = '';
    try {
      sidecar = readFileSync(path.join(dir, 'wsi-model.json'), 'utf8');
    } catch {
      // The model loader reports a missing sidecar; the id only needs to be stable.
    }
    id = `${path.basename(dir)}@${shortHash(sidecar)}`;
    densityIds.set(dir, id);
  }
  return id;
}
