/**
 * The shipped H&E nucleus counter: the watershed counter on the haematoxylin channel with parameters
 * learned by a search on annotated H&E images (he-train.ts), stored as a small JSON model file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.ts';
import { haematoxylin } from './channel.ts';
import type { PixelImage, SegmentationResult } from './types.ts';
import {
  DEFAULT_WATERSHED,
  segmentChannel,
  validateWatershedOptions,
  type WatershedOptions,
} from './watershed-counter.ts';

/** The parameters the search learns; the rest of WatershedOptions stays at its defaults. */
export const LEARNED_KEYS = ['sigma', 'thresholdScale', 'minDistance', 'h', 'minArea'] as const;
export type LearnedKey = (typeof LEARNED_KEYS)[number];
export type LearnedParameters = Pick<WatershedOptions, LearnedKey>;

export interface HeModel {
  format: 1;
  kind: 'he-watershed';
  /** Stable id written into every CSV row: name @ a hash of the parameters. */
  id: string;
  parameters: LearnedParameters;
  /** How the parameters were found: command, data, split, metrics (free-form, for people). */
  training: Record<string, unknown>;
}

export const DEFAULT_HE_MODEL = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../models/he-watershed/he-watershed.json',
);

/** FNV-1a of a string, 8 hex digits: enough to tell parameter sets apart in a CSV. */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function heModelId(name: string, p: LearnedParameters): string {
  return `${name}@${shortHash(JSON.stringify(LEARNED_KEYS.map((k) => p[k])))}`;
}

export function heOptions(p: LearnedParameters): WatershedOptions {
  return { ...DEFAULT_WATERSHED, channel: 'haematoxylin', markersOn: 'distance', ...p };
}

const cache = new Map<string, HeModel>();

/** Reads and checks a model file (a directory holding he-watershed.json is accepted too). */
export function loadHeModel(file: string = DEFAULT_HE_MODEL): HeModel {
  const resolved = file.endsWith('.json') ? file : path.join(file, 'he-watershed.json');
  const hit = cache.get(resolved);
  if (hit) return hit;
  let m: HeModel;
  try {
    m = JSON.parse(readFileSync(resolved, 'utf8')) as HeModel;
  } catch (err) {
    throw new ModelError(`cannot read H&E counter ${resolved}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (m.format !== 1 || m.kind !== 'he-watershed' || typeof m.parameters !== 'object') {
    throw new ModelError(`${resolved} is not an H&E watershed counter (format 1, kind he-watershed)`);
  }
  try {
    validateWatershedOptions(heOptions(m.parameters));
  } catch (err) {
    throw new ModelError(`${resolved}: ${(err as Error).message}`);
  }
  cache.set(resolved, m);
  return m;
}

/** Counts nuclei in an RGB H&E image with a learned parameter set. */
export function countHe(model: HeModel, img: PixelImage): SegmentationResult {
  return segmentChannel(haematoxylin(img), heOptions(model.parameters));
}
